"""TLS endpoint discovery with the standard library: connect, shake hands, keep what the
server presented.

Nothing is verified on purpose: the point is to see the certificates in use, expired,
self-signed or issued by anyone, so the context checks neither the chain nor the name.
It still insists on TLS 1.2 or later (RFC 8996 deprecates 1.0 and 1.1), so a server that
offers only those is reported as such. The server name (SNI, RFC 6066 3) is sent when
there is one; never for an address.

The chain is read with ``get_unverified_chain`` (OpenSSL ``SSL_get_peer_cert_chain``: on
the client side, every certificate the server sent, the server's own first). Python 3.13
has it on ``SSLSocket``; 3.10 to 3.12 have it only on the private ``_sslobj``. Where
neither is there, only the server's certificate is kept (``getpeercert(True)``).

Every failure becomes an ``EndpointError`` naming ``host:port`` and what went wrong: the
name not resolved, the connection refused or unanswered, or no TLS handshake.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

from workstation.errors import EndpointError
from workstation.services.ports import PresentedChain

__all__ = ["SslTlsProbe"]

log = logging.getLogger(__name__)

# OpenSSL reasons meaning the peer answered with something other than a TLS record.
_NOT_TLS = {
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "HTTP_REQUEST",
    "HTTPS_PROXY_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "UNKNOWN_PROTOCOL",
}
_OLD_PROTOCOL = {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE"}


def _context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _presented(tls: ssl.SSLSocket) -> tuple[bytes, ...]:
    reader: Any = getattr(tls, "get_unverified_chain", None)  # Python 3.13
    if reader is None:
        sslobj = getattr(tls, "_sslobj", None)
        reader = getattr(sslobj, "get_unverified_chain", None)
    if reader is not None:
        chain = reader() or []
        ders = tuple(
            c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
            for c in chain
        )
        if ders:
            return ders
    leaf = tls.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()


class SslTlsProbe:
    """``TlsProbe`` with ``ssl`` and ``socket``."""

    def fetch(
        self, host: str, port: int, *, timeout: float = 5.0, server_name: str | None = None
    ) -> PresentedChain:
        where = _where(host, port)
        if not 0 < timeout <= 120:
            raise EndpointError(f"{where}: the timeout must be from 0 to 120 seconds.")
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except socket.gaierror as e:
            raise EndpointError(
                f"{where}: the name {host} was not resolved ({e.strerror}).", detail=repr(e)
            ) from None
        except ConnectionRefusedError:
            raise EndpointError(
                f"{where}: the connection was refused (nothing listens on port {port})."
            ) from None
        except TimeoutError:
            raise EndpointError(
                f"{where}: no answer to the connection within {timeout:g} seconds."
            ) from None
        except OSError as e:
            raise EndpointError(
                f"{where}: could not connect ({e.strerror or e}).", detail=repr(e)
            ) from None
        try:
            with _context().wrap_socket(raw, server_hostname=server_name) as tls:
                chain = _presented(tls)
                protocol = tls.version() or ""
                cipher = (tls.cipher() or ("", "", 0))[0]
        except TimeoutError:
            raise EndpointError(
                f"{where}: the TLS handshake did not complete within {timeout:g} seconds "
                "(not a TLS server?)."
            ) from None
        except (ssl.SSLEOFError, ConnectionResetError, ssl.SSLZeroReturnError) as e:
            raise EndpointError(
                f"{where}: the server closed the connection during the TLS handshake (not a "
                "TLS server, or it refused this client).",
                detail=repr(e),
            ) from None
        except ssl.SSLError as e:
            reason = e.reason or ""
            if reason in _NOT_TLS:
                message = f"{where}: the server answered, but not with TLS (not a TLS server)."
            elif reason in _OLD_PROTOCOL:
                message = f"{where}: the server offers no TLS version from 1.2 up."
            else:
                said = reason.replace("_", " ").lower() if reason else str(e)
                message = f"{where}: the TLS handshake failed ({said})."
            raise EndpointError(message, detail=repr(e)) from None
        except OSError as e:
            raise EndpointError(
                f"{where}: the TLS handshake failed ({e.strerror or e}).", detail=repr(e)
            ) from None
        finally:
            raw.close()
        if not chain:
            raise EndpointError(f"{where}: the server presented no certificate.")
        log.debug("%s presented %d certificates over %s", where, len(chain), protocol)
        return PresentedChain(
            host=host, port=port, certificates=chain, protocol=protocol, cipher=cipher
        )
