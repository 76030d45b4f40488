"""PIV cards (NIST SP 800-73-4) in PC/SC readers, through pcscd and pyscard.

Implements the ``CardReaders``, ``PivCard`` and ``CardWatch`` ports with the low-level
``smartcard.scard`` API. Every PC/SC failure is translated here into a
``workstation.errors`` exception with a sentence a custodian understands; the PC/SC code
and message go into ``detail`` for the log.

Design notes
------------
- Each card connection has its own PC/SC context and a lock: one thread at a time talks to
  one card. The watch thread has its own context too, so a blocked
  ``SCardGetStatusChange`` never holds up a card.
- Cards are opened in exclusive mode by default, so no other program can use a card
  whose PIN this workstation has verified; ``close()`` resets the card, which drops the
  PIN-verified state (a card's security status does not survive a reset). One connection
  per card at a time: a second ``connect`` to a held card raises CardError ("in use").
- PIN bytes go to pyscard in a list that is overwritten after sending. pyscard and pcscd
  copy the APDU into buffers of their own, which this code cannot wipe.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
import zlib
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from smartcard import scard

from workstation.errors import (
    AuthenticationFailed,
    BadInput,
    CardBlocked,
    CardError,
    CardRemoved,
    NoCardPresent,
    PinIncorrect,
)
from workstation.services.ports import CardReaders, CardWatch, PivCard, ReaderStatus

__all__ = ["PcscCardReaders", "PcscCardWatch", "PcscPivCard"]

_log = logging.getLogger(__name__)

# The PIV Card Application AID right-truncated to drop the version, which SP 800-73-4
# Part 2, 3.1.1 allows and every PIV card accepts.
_PIV_AID: Final = bytes.fromhex("A00000030800001000")
_TAG_PIV_AUTH_CERT: Final = bytes.fromhex("5FC105")
_ALG_RSA2048: Final = 0x07  # SP 800-78-4, Table 6-2
_ALG_ECCP256: Final = 0x11
_KEY_PIV_AUTH: Final = 0x9A  # SP 800-73-4 Part 1, Table 4
_PIN_REFERENCE: Final = 0x80  # PIV Card Application PIN
# EMSA-PKCS1-v1_5 DigestInfo prefix for SHA-256 (RFC 8017, 9.2, note 1).
_SHA256_DIGEST_INFO: Final = bytes.fromhex("3031300d060960864801650304020105000420")
_MAX_CERT: Final = 16 * 1024  # a decompressed certificate larger than this is refused
_PNP_NOTIFICATION: Final = "\\\\?PnP?\\Notification"

_NO_SERVICE: Final = frozenset(
    {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_INVALID_HANDLE}
)
_CARD_GONE: Final = frozenset(
    {
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_W_RESET_CARD,
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_E_READER_UNAVAILABLE,
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_W_UNPOWERED_CARD,
    }
)


def _hr(value: Any) -> int:
    return int(value) & 0xFFFFFFFF


def _pcsc_detail(hresult: int, doing: str) -> str:
    try:
        text = str(scard.SCardGetErrorMessage(hresult))
    except Exception:  # noqa: BLE001 - only for the log line
        text = "unknown"
    return f"{doing}: {text} (PC/SC 0x{hresult:08X})"


def _pcsc_error(hresult: int, *, reader: str | None, doing: str) -> CardError:
    """The workstation error for a PC/SC result code."""
    detail = _pcsc_detail(hresult, doing)
    where = f"the reader {reader!r}" if reader else "the card reader"
    if hresult in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
        return CardError(
            "The smart-card service (pcscd) is not running, so no card can be read. "
            "Ask the administrator to start it.",
            detail=detail,
        )
    if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
        return CardError("No card reader is connected.", detail=detail)
    if hresult in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
        return CardError(f"The card reader {reader!r} is not available.", detail=detail)
    if hresult == scard.SCARD_E_NO_SMARTCARD:
        return NoCardPresent(f"There is no card in {where}.", detail=detail)
    if hresult == scard.SCARD_W_REMOVED_CARD:
        return CardRemoved(f"The card was removed from {where}.", detail=detail)
    if hresult == scard.SCARD_W_RESET_CARD:
        return CardRemoved(
            f"The card in {where} was reset by another program; its PIN must be entered again.",
            detail=detail,
        )
    if hresult == scard.SCARD_E_SHARING_VIOLATION:
        return CardError(
            f"The card in {where} is in use by another program or another logon.",
            detail=detail,
        )
    if hresult in (
        scard.SCARD_W_UNRESPONSIVE_CARD,
        scard.SCARD_W_UNPOWERED_CARD,
        scard.SCARD_W_UNSUPPORTED_CARD,
        scard.SCARD_E_PROTO_MISMATCH,
    ):
        return CardError(
            f"The card in {where} does not answer. Check that it is inserted the right way.",
            detail=detail,
        )
    if hresult == scard.SCARD_E_TIMEOUT:
        return CardError(f"The card in {where} did not answer in time.", detail=detail)
    return CardError(f"The card reader reported an error ({where}).", detail=detail)


def _call(function: Callable[..., Any], *args: Any, reader: str | None, doing: str) -> Any:
    """Call a pyscard function, turning its own exceptions into CardError."""
    try:
        return function(*args)
    except Exception as exc:  # pyscard raises several unrelated types
        raise CardError(
            "The card reader software failed.", detail=f"{doing}: {exc!r} (reader {reader!r})"
        ) from exc


def _establish(doing: str) -> Any:
    hresult, context = _call(
        scard.SCardEstablishContext, scard.SCARD_SCOPE_USER, reader=None, doing=doing
    )
    if _hr(hresult) != scard.SCARD_S_SUCCESS:
        raise _pcsc_error(_hr(hresult), reader=None, doing=doing)
    return context


def _release(context: Any) -> None:
    try:
        scard.SCardReleaseContext(context)
    except Exception:  # noqa: BLE001 - nothing useful to do at release
        _log.debug("SCardReleaseContext failed", exc_info=True)


def _list_readers(context: Any) -> list[str]:
    hresult, names = _call(
        scard.SCardListReaders, context, [], reader=None, doing="SCardListReaders"
    )
    hresult = _hr(hresult)
    if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    if hresult != scard.SCARD_S_SUCCESS:
        raise _pcsc_error(hresult, reader=None, doing="SCardListReaders")
    return [str(n) for n in names]


def _parse_tlv(data: bytes) -> dict[bytes, bytes]:
    """BER-TLV objects at one level (ISO/IEC 7816-4, 5.2); the first of a repeated tag."""
    out: dict[bytes, bytes] = {}
    i = 0
    while i < len(data):
        start = i
        if data[i] & 0x1F == 0x1F:
            i += 1
            while i < len(data) and data[i] & 0x80:
                i += 1
        i += 1
        if i >= len(data):
            raise ValueError("truncated TLV")
        tag, first = data[start:i], data[i]
        i += 1
        if first < 0x80:
            length = first
        elif first in (0x81, 0x82, 0x83):
            n = first & 0x7F
            length = int.from_bytes(data[i : i + n], "big")
            i += n
        else:
            raise ValueError("bad TLV length")
        if i + length > len(data):
            raise ValueError("truncated TLV value")
        out.setdefault(tag, data[i : i + length])
        i += length
    return out


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n <= 0xFF:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + value


def _pin_form_ok(pin: bytearray) -> bool:
    # SP 800-73-4 Part 1, 2.4.3: 6 to 8 digits.
    return 6 <= len(pin) <= 8 and all(0x30 <= b <= 0x39 for b in pin)


def _wipe(buffer: list[int]) -> None:
    for i in range(len(buffer)):
        buffer[i] = 0


def _reader_matches(name: str, reader_filter: str | None) -> bool:
    return reader_filter is None or reader_filter.lower() in name.lower()


class PcscPivCard:
    """A connection to the PIV card in one reader; made by :meth:`PcscCardReaders.connect`."""

    def __init__(self, context: Any, handle: Any, protocol: int, reader: str) -> None:
        self._context = context
        self._handle = handle
        self._protocol = protocol
        self._reader = reader
        self._lock = threading.RLock()
        self._gone = False
        self._closed = False
        self._released = False  # handle and context given back to PC/SC
        self._certificate: bytes | None = None

    def __enter__(self) -> PcscPivCard:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def reader(self) -> str:
        return self._reader

    # --- transport ----------------------------------------------------------------------

    def _exchange(self, apdu: list[int], doing: str) -> tuple[bytes, int]:
        """Send one APDU; return (data, SW1SW2). Caller holds the lock."""
        if self._closed:
            raise CardError("The card connection is closed.", detail=doing)
        if self._gone:
            raise CardRemoved(f"The card was removed from the reader {self._reader!r}.")
        hresult, response = _call(
            scard.SCardTransmit,
            self._handle,
            self._protocol,
            apdu,
            reader=self._reader,
            doing=doing,
        )
        hresult = _hr(hresult)
        if hresult != scard.SCARD_S_SUCCESS:
            if hresult in _CARD_GONE or hresult in _NO_SERVICE:
                self._drop()
            raise _pcsc_error(hresult, reader=self._reader, doing=doing)
        if len(response) < 2:
            raise CardError(
                f"The card in the reader {self._reader!r} gave an incomplete answer.",
                detail=f"{doing}: response {bytes(response).hex()}",
            )
        return bytes(response[:-2]), (response[-2] << 8) | response[-1]

    def _command(
        self, ins: int, p1: int, p2: int, data: bytes = b"", *, le: bool = True, doing: str
    ) -> tuple[bytes, int]:
        """One command, with command chaining for more than 255 data bytes and GET
        RESPONSE for long answers (SP 800-73-4 Part 2, 3; ISO/IEC 7816-4, 5.1.1, 5.3.4)."""
        with self._lock:
            chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
            for chunk in chunks[:-1]:
                _, sw = self._exchange([0x10, ins, p1, p2, len(chunk), *chunk], doing)
                if sw != 0x9000:
                    return b"", sw
            last = chunks[-1]
            apdu = [0x00, ins, p1, p2]
            if last:
                apdu += [len(last), *last]
            if le:
                apdu.append(0x00)
            body, sw = self._exchange(apdu, doing)
            if sw >> 8 == 0x6C:  # wrong Le: send again with the length the card gives
                body, sw = self._exchange([*apdu[:-1], sw & 0xFF], doing)
            collected = bytearray(body)
            while sw >> 8 == 0x61:
                if len(collected) > 64 * 1024:
                    raise CardError(
                        f"The card in the reader {self._reader!r} sent too much data.",
                        detail=doing,
                    )
                body, sw = self._exchange([0x00, 0xC0, 0x00, 0x00, sw & 0xFF], doing)
                collected.extend(body)
            return bytes(collected), sw

    def _unexpected(self, sw: int, doing: str) -> CardError:
        return CardError(
            f"The card in the reader {self._reader!r} refused the request ({doing}).",
            detail=f"{doing}: status word {sw:04X}",
        )

    def select(self) -> None:
        """SELECT the PIV Card Application (SP 800-73-4 Part 2, 3.1.1)."""
        _, sw = self._command(0xA4, 0x04, 0x00, _PIV_AID, doing="SELECT PIV")
        if sw in (0x6A82, 0x6A81, 0x6D00, 0x6E00):
            raise CardError(
                f"The card in the reader {self._reader!r} is not a PIV card.",
                detail=f"SELECT PIV: status word {sw:04X}",
            )
        if sw != 0x9000:
            raise self._unexpected(sw, "SELECT PIV")

    # --- PivCard ---------------------------------------------------------------------

    def authentication_certificate(self) -> bytes:
        """GET DATA of the X.509 Certificate for PIV Authentication (5FC105), DER."""
        with self._lock:
            if self._certificate is not None:
                return self._certificate
            doing = "GET DATA 5FC105"
            data, sw = self._command(0xCB, 0x3F, 0xFF, _tlv(0x5C, _TAG_PIV_AUTH_CERT), doing=doing)
            if sw == 0x6A82:
                raise CardError(
                    "The card has no PIV Authentication certificate; it was not issued for logon.",
                    detail=f"{doing}: 6A82",
                )
            if sw == 0x6982:
                raise CardError(
                    "The card does not let its certificate be read without a PIN.",
                    detail=f"{doing}: 6982",
                )
            if sw != 0x9000:
                raise self._unexpected(sw, "reading the certificate")
            certificate = self._decode_certificate(data)
            self._certificate = certificate
            return certificate

    def _decode_certificate(self, data: bytes) -> bytes:
        unreadable = "The certificate on the card cannot be read."
        try:
            container = _parse_tlv(data).get(b"\x53")
            if container is None:
                raise ValueError("no 53 container")
            fields = _parse_tlv(container)
            certificate = fields[b"\x70"]
            info = fields.get(b"\x71", b"\x00")
            # CertInfo b0 set: the certificate is gzip-compressed (SP 800-73-4 Part 1, 3.3
            # and Table 15), as some issuers do for large RSA certificates.
            if info and info[0] & 0x01:
                inflater = zlib.decompressobj(wbits=31)
                certificate = inflater.decompress(certificate, _MAX_CERT)
                if inflater.unconsumed_tail:
                    raise ValueError("certificate too large")
            from cryptography import x509

            x509.load_der_x509_certificate(certificate)
        except (KeyError, ValueError, zlib.error) as exc:
            raise CardError(unreadable, detail=f"GET DATA 5FC105: {exc}") from exc
        return certificate

    def pin_retries_left(self) -> int | None:
        """VERIFY without data (SP 800-73-4 Part 2, 3.2.1): 63Cx gives the tries left.

        None when the card does not say, which is also the answer when the PIN is already
        verified in this card session (the card then answers 9000).
        """
        with self._lock:
            apdu = [0x00, 0x20, 0x00, _PIN_REFERENCE]
            _, sw = self._exchange(apdu, "VERIFY (status)")
        if sw & 0xFFF0 == 0x63C0:
            return sw & 0x0F
        if sw == 0x6983:
            return 0
        if sw in (0x9000, 0x6A88, 0x6D00) or sw >> 8 == 0x63:
            return None
        raise self._unexpected(sw, "reading the PIN tries left")

    def verify_pin(self, pin: bytearray) -> None:
        """VERIFY the PIV Card Application PIN (SP 800-73-4 Part 2, 3.2.1)."""
        if not _pin_form_ok(pin):
            raise BadInput("A PIN has 6 to 8 digits.")
        apdu = [0x00, 0x20, 0x00, _PIN_REFERENCE, 0x08, *pin] + [0xFF] * (8 - len(pin))
        try:
            with self._lock:
                _, sw = self._exchange(apdu, "VERIFY")
        finally:
            _wipe(apdu)
        self._raise_for_pin_status(sw, "VERIFY")

    def change_pin(self, old: bytearray, new: bytearray) -> None:
        """CHANGE REFERENCE DATA of the PIN (SP 800-73-4 Part 2, 3.2.2)."""
        if not _pin_form_ok(old):
            raise BadInput("The current PIN has 6 to 8 digits.")
        if not _pin_form_ok(new):
            raise BadInput("The new PIN must have 6 to 8 digits.")
        apdu = [0x00, 0x24, 0x00, _PIN_REFERENCE, 0x10, *old]
        apdu += [0xFF] * (8 - len(old)) + [*new] + [0xFF] * (8 - len(new))
        try:
            with self._lock:
                _, sw = self._exchange(apdu, "CHANGE REFERENCE DATA")
        finally:
            _wipe(apdu)
        self._raise_for_pin_status(sw, "CHANGE REFERENCE DATA")

    def _raise_for_pin_status(self, sw: int, doing: str) -> None:
        if sw == 0x9000:
            return
        if sw & 0xFFF0 == 0x63C0:
            raise PinIncorrect(sw & 0x0F, detail=f"{doing}: {sw:04X}")
        if sw == 0x6983:
            raise CardBlocked(detail=f"{doing}: 6983")
        if sw in (0x6A80, 0x6700):
            raise BadInput("The card does not accept a PIN of this form.", detail=f"{sw:04X}")
        raise self._unexpected(sw, "checking the PIN")

    def sign(self, message: bytes) -> bytes:
        """GENERAL AUTHENTICATE with key 9A over SHA-256(message) (SP 800-73-4 Part 2,
        3.2.4 and Appendix A): ECDSA (DER) for EC P-256, RSASSA-PKCS1-v1_5 for RSA-2048."""
        # Imported here: the logon screen starts without cryptography's X.509 modules.
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        public_key = x509.load_der_x509_certificate(self.authentication_certificate()).public_key()
        digest = hashlib.sha256(message).digest()
        if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == (
            "secp256r1"
        ):
            algorithm, challenge = _ALG_ECCP256, digest
        elif isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 2048:
            # The card does raw RSA: the client pads (EMSA-PKCS1-v1_5, RFC 8017, 9.2).
            t = _SHA256_DIGEST_INFO + digest
            algorithm = _ALG_RSA2048
            challenge = b"\x00\x01" + b"\xff" * (256 - len(t) - 3) + b"\x00" + t
        else:
            raise CardError(
                "The card's key type is not supported for logon (EC P-256 or RSA-2048 only).",
                detail=f"public key {type(public_key).__name__}",
            )
        template = _tlv(0x7C, _tlv(0x82, b"") + _tlv(0x81, challenge))
        data, sw = self._command(
            0x87, algorithm, _KEY_PIV_AUTH, template, doing="GENERAL AUTHENTICATE"
        )
        if sw == 0x6982:
            raise AuthenticationFailed(
                "The card needs its PIN to be entered before it can sign.",
                detail="GENERAL AUTHENTICATE: 6982",
            )
        if sw == 0x6983:
            raise CardBlocked(detail="GENERAL AUTHENTICATE: 6983")
        if sw != 0x9000:
            raise self._unexpected(sw, "signing")
        try:
            signature = _parse_tlv(_parse_tlv(data)[b"\x7c"])[b"\x82"]
        except (KeyError, ValueError) as exc:
            raise CardError(
                "The card's signature cannot be read.",
                detail=f"GENERAL AUTHENTICATE response {data.hex()}",
            ) from exc
        if not signature:
            raise CardError("The card returned an empty signature.")
        return signature

    def still_present(self) -> bool:
        """False once the card was removed or reset since connect (latched: it stays False
        even when a card is put back), or when pcscd went away."""
        with self._lock:
            if self._gone or self._closed:
                return False
            try:
                result = scard.SCardStatus(self._handle)
            except Exception:  # noqa: BLE001 - fail closed: treat as gone
                _log.warning("SCardStatus failed on %r", self._reader, exc_info=True)
                self._drop()
                return False
            hresult = _hr(result[0])
            if hresult == scard.SCARD_S_SUCCESS:
                # pcsc-lite answers SCARD_W_REMOVED_CARD (or _RESET_CARD) on a handle whose
                # card went away, until the handle is reconnected, which this class never
                # does: a card put back is a new card session.
                return True
            if hresult not in _CARD_GONE and hresult not in _NO_SERVICE:
                _log.warning("%s", _pcsc_detail(hresult, f"SCardStatus on {self._reader!r}"))
            self._drop()
            return False

    def _drop(self) -> None:
        """The card went away: let go of the handle at once. An exclusive handle would
        otherwise keep the card, put back, from being connected again."""
        self._gone = True
        self._disconnect(scard.SCARD_LEAVE_CARD)

    def _disconnect(self, disposition: int) -> None:
        if self._released:
            return
        self._released = True
        try:
            scard.SCardDisconnect(self._handle, disposition)
        except Exception:  # noqa: BLE001 - letting go must not fail
            _log.debug("SCardDisconnect failed", exc_info=True)
        _release(self._context)

    def close(self) -> None:
        """Disconnect, resetting the card so its PIN-verified state ends; idempotent."""
        with self._lock:
            self._closed = True
            self._disconnect(scard.SCARD_RESET_CARD)


class PcscCardReaders:
    """The PC/SC readers of this workstation.

    Parameters
    ----------
    reader_filter
        Only readers whose name contains this text (case-insensitive) are listed, watched
        and accepted by :meth:`connect`. None: all readers.
    exclusive
        Open cards in exclusive mode (the default), so no other program can use a card
        while the workstation holds it.
    """

    def __init__(self, reader_filter: str | None = None, *, exclusive: bool = True) -> None:
        self._filter = reader_filter or None
        self._share = scard.SCARD_SHARE_EXCLUSIVE if exclusive else scard.SCARD_SHARE_SHARED
        self._open: weakref.WeakSet[PcscPivCard] = weakref.WeakSet()
        self._open_lock = threading.Lock()

    @property
    def reader_filter(self) -> str | None:
        return self._filter

    def _names(self, context: Any) -> list[str]:
        return sorted(n for n in _list_readers(context) if _reader_matches(n, self._filter))

    def readers(self) -> list[ReaderStatus]:
        """The readers, sorted by name, and whether each holds a card."""
        context = _establish("SCardEstablishContext")
        try:
            names = self._names(context)
            return _statuses(context, names)
        finally:
            _release(context)

    def connect(self, reader: str) -> PcscPivCard:
        """Connect to the card in ``reader`` and SELECT the PIV application.

        Raises
        ------
        NoCardPresent
            The reader is empty.
        CardError
            An unknown or filtered-out reader, a card that is not a PIV card, a card in use
            elsewhere, or pcscd not running.
        """
        if not _reader_matches(reader, self._filter):
            raise CardError(f"The reader {reader!r} is not one of this workstation's readers.")
        with self._open_lock:
            earlier = [c for c in self._open if c.reader == reader]
        for old in earlier:
            old.still_present()  # lets go of a connection whose card was pulled out
        context = _establish("SCardEstablishContext")
        try:
            doing = f"SCardConnect {reader!r}"
            hresult, handle, protocol = _call(
                scard.SCardConnect,
                context,
                reader,
                self._share,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
                reader=reader,
                doing=doing,
            )
            hresult = _hr(hresult)
            if hresult in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD):
                raise NoCardPresent(
                    f"There is no card in the reader {reader!r}.",
                    detail=_pcsc_detail(hresult, doing),
                )
            if hresult != scard.SCARD_S_SUCCESS:
                raise _pcsc_error(hresult, reader=reader, doing=doing)
        except BaseException:
            _release(context)
            raise
        card = PcscPivCard(context, handle, int(protocol), reader)
        try:
            card.select()
        except BaseException:
            card.close()
            raise
        with self._open_lock:
            self._open.add(card)
        return card

    def watch(self, on_change: Callable[[list[ReaderStatus]], None]) -> PcscCardWatch:
        """Call ``on_change`` from a background thread whenever a card is inserted or
        removed (or a reader appears or goes), until ``stop()``.

        The watch takes its baseline before this returns, so every change after the call
        is reported. ``on_change`` gets every (filtered) reader's status, sorted by name.
        """
        watch = PcscCardWatch(self, on_change)
        watch.start()
        return watch


def _statuses(context: Any, names: list[str]) -> list[ReaderStatus]:
    if not names:
        return []
    hresult, states = _call(
        scard.SCardGetStatusChange,
        context,
        0,
        [(n, scard.SCARD_STATE_UNAWARE) for n in names],
        reader=None,
        doing="SCardGetStatusChange",
    )
    hresult = _hr(hresult)
    if hresult != scard.SCARD_S_SUCCESS:
        raise _pcsc_error(hresult, reader=None, doing="SCardGetStatusChange")
    return [
        ReaderStatus(str(name), bool(int(state) & scard.SCARD_STATE_PRESENT))
        for name, state, _atr in states
    ]


class PcscCardWatch:
    """A background thread waiting in ``SCardGetStatusChange`` on its own PC/SC context.

    ``stop()`` cancels the wait (``SCardCancel``) and returns once the thread has ended.
    If pcscd goes away, the watch reports every reader gone and retries every second.
    """

    _WAIT_MS: Final = 1000  # upper bound on one wait; SCardCancel usually ends it sooner

    def __init__(
        self, readers: PcscCardReaders, on_change: Callable[[list[ReaderStatus]], None]
    ) -> None:
        self._readers = readers
        self._on_change = on_change
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._context: Any = None
        self._context_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pcsc-card-watch", daemon=True)
        self._last: list[ReaderStatus] | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(5.0)

    def stop(self) -> None:
        """Stop watching; returns when the thread has ended (at once from the callback)."""
        self._stopping.set()
        if threading.current_thread() is self._thread:
            return  # called from the callback: the loop ends when it returns
        while self._thread.is_alive():
            with self._context_lock:
                if self._context is not None:
                    try:
                        scard.SCardCancel(self._context)
                    except Exception:  # noqa: BLE001 - the thread ends at its next timeout
                        _log.debug("SCardCancel failed", exc_info=True)
            self._thread.join(0.05)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _report(self, statuses: list[ReaderStatus], *, force: bool = False) -> None:
        unchanged = statuses == self._last and not force
        self._last = statuses
        if unchanged or self._stopping.is_set():
            return
        try:
            self._on_change(statuses)
        except Exception:  # noqa: BLE001 - a faulty callback must not end the watch
            _log.exception("The card watch callback failed")

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                context = _establish("SCardEstablishContext (watch)")
            except CardError:
                if self._last:
                    self._report([])
                self._ready.set()
                self._stopping.wait(1.0)
                continue
            with self._context_lock:
                self._context = context
            try:
                self._watch(context)
            except CardError as exc:
                _log.warning("Card watch: %s (%s)", exc.message, exc.detail)
                if self._last:
                    self._report([])  # pcscd went away: no reader, no card
                self._stopping.wait(1.0)
            finally:
                with self._context_lock:
                    self._context = None
                _release(context)
                self._ready.set()

    def _watch(self, context: Any) -> None:
        states = self._baseline(context)
        self._last = self._current(states)
        self._ready.set()
        while not self._stopping.is_set():
            result = self._get(context, self._WAIT_MS, states)
            if result is None:
                continue  # timeout, or cancelled by stop()
            readers_changed = False
            cards_changed = False
            for name, state, _atr in result:
                name, state = str(name), int(state)
                if name == _PNP_NOTIFICATION:
                    if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
                        del states[name]  # no reader notifications from this pcscd
                        continue
                    readers_changed |= bool(state & scard.SCARD_STATE_CHANGED)
                elif state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
                    readers_changed = True  # the reader went away
                else:
                    old = states.get(name, 0)
                    # pcsc-lite counts card events in the high 16 bits: a card removed and
                    # put back between two waits changes only that counter.
                    cards_changed |= bool(
                        (old ^ state) & scard.SCARD_STATE_PRESENT or (old >> 16) != (state >> 16)
                    )
                states[name] = state & ~scard.SCARD_STATE_CHANGED
            if readers_changed:
                states = self._baseline(context)
            self._report(self._current(states), force=cards_changed)

    def _baseline(self, context: Any) -> dict[str, int]:
        names = self._readers._names(context)
        states = {
            str(name): int(state) & ~scard.SCARD_STATE_CHANGED
            for name, state, _atr in self._get(context, 0, dict.fromkeys(names, 0)) or []
        }
        states[_PNP_NOTIFICATION] = 0
        return states

    @staticmethod
    def _current(states: dict[str, int]) -> list[ReaderStatus]:
        return sorted(
            (
                ReaderStatus(name, bool(state & scard.SCARD_STATE_PRESENT))
                for name, state in states.items()
                if name != _PNP_NOTIFICATION
            ),
            key=lambda s: s.name,
        )

    def _get(self, context: Any, timeout_ms: int, states: dict[str, int]) -> list[Any] | None:
        if not states:
            return []
        hresult, result = _call(
            scard.SCardGetStatusChange,
            context,
            timeout_ms,
            list(states.items()),
            reader=None,
            doing="SCardGetStatusChange (watch)",
        )
        hresult = _hr(hresult)
        if hresult == scard.SCARD_E_TIMEOUT:
            return None
        if hresult == scard.SCARD_E_CANCELLED:
            return None  # stop() cancelled the wait; the loop checks the flag
        if hresult != scard.SCARD_S_SUCCESS:
            raise _pcsc_error(hresult, reader=None, doing="SCardGetStatusChange (watch)")
        return list(result)


if TYPE_CHECKING:

    def _implements_ports(
        readers: PcscCardReaders, card: PcscPivCard, watch: PcscCardWatch
    ) -> tuple[CardReaders, PivCard, CardWatch]:
        return readers, card, watch
