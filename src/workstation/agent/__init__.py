"""``workstation-agent``: the key agent that runs beside an application.

It listens with mutual TLS, accepts TR-31 key blocks under its KEK from the workstation,
installs the keys into its local PKCS#11 token and answers with the check value of what it
installed and the key versions it holds. See docs/agent.md.

A separate program: it uses ``workstation.standards`` (TR-31, KCV), the SoftHSM2
provisioning of ``workstation.adapters.softhsm``, python-pkcs11 and cryptography, never the
workstation's services, GUI or bootstrap. The workstation's client
(``workstation.adapters.key_stores``) imports ``protocol`` and ``token`` from here, so the
wire format and the token's naming of keys have one definition.
"""

AGENT_VERSION = "0.1.0"

__all__ = ["AGENT_VERSION"]
