"""Payment key-exchange standards as a library of its own.

One module per standard, bytes in and bytes out, one error class per module (each a
``ValueError``). Nothing here imports the rest of the workstation, Qt, an HSM or a card
library: a payment developer can use these modules alone.

- :mod:`workstation.standards.kcv`: key check values (ANSI X9.24-1:2017 Annex A).
- :mod:`workstation.standards.tr31`: TR-31 / ANSI X9.143 key blocks, versions A, B, C, D (and
  E, ISO 20038).
- :mod:`workstation.standards.legacy`: keys encrypted under a zone master key without a key
  block (TDES ECB), for import only.
- :mod:`workstation.standards.tr34`: ASC X9 TR-34 asymmetric key transport (2012 and 2019).
- :mod:`workstation.standards.ecdh`: ECDH key agreement with the NIST SP 800-56C and ANSI X9.63
  key derivation functions.
- :mod:`workstation.standards.dukpt`: DUKPT, TDES (ANSI X9.24-1:2009) and AES (ANSI X9.24-3:2017).
- :mod:`workstation.standards.emv`: EMV Book 2 issuer public key certificates.
- :mod:`workstation.standards.pkix`: certificate requests (PKCS#10) signed by an external
  signer, and certificate path validation (RFC 5280) naming every refusal.

See docs/standards.md for the decisions taken on the standards' edge cases.
"""
