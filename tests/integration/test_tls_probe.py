"""The TLS probe against real servers the tests start on loopback: the chain a server
presents (with its intermediate, expired, self-signed), the name it was asked for, and
each way of failing named with host:port and its cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from tests.tls_servers import PlainServer, SilentServer, TestPki, TlsServer, closed_port, der
from workstation.adapters.tls_probe import SslTlsProbe
from workstation.errors import EndpointError


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki()


def test_the_chain_as_presented_with_its_intermediate(pki: TestPki, tmp_path: Path) -> None:
    cert, key = pki.server("pay.bank.example")
    with TlsServer([cert, pki.intermediate], key, tmp_path) as server:
        seen = SslTlsProbe().fetch("127.0.0.1", server.port, server_name="pay.bank.example")
    assert seen.certificates == (der(cert), der(pki.intermediate))
    assert (seen.host, seen.port) == ("127.0.0.1", server.port)
    assert seen.protocol in ("TLSv1.2", "TLSv1.3") and seen.cipher
    assert server.server_names == ["pay.bank.example"]


def test_no_server_name_for_an_address_and_nothing_verified(pki: TestPki, tmp_path: Path) -> None:
    expired, expired_key = pki.server("old.bank.example", days=10, start=_days_ago(40))
    own, own_key = TestPki.self_signed("self.bank.example")
    probe = SslTlsProbe()
    with TlsServer([expired, pki.intermediate], expired_key, tmp_path) as server:
        seen = probe.fetch("127.0.0.1", server.port)
    assert x509.load_der_x509_certificate(seen.certificates[0]) == expired
    assert server.server_names == [None]  # no SNI without a name
    with TlsServer([own], own_key, tmp_path) as server:
        seen = probe.fetch("localhost", server.port, server_name="self.bank.example", timeout=5)
    assert seen.certificates == (der(own),)


def test_tls_1_2_is_enough(pki: TestPki, tmp_path: Path) -> None:
    import ssl

    cert, key = pki.server("legacy.bank.example")
    with TlsServer(
        [cert, pki.intermediate], key, tmp_path, maximum=ssl.TLSVersion.TLSv1_2
    ) as server:
        seen = SslTlsProbe().fetch("127.0.0.1", server.port)
    assert seen.protocol == "TLSv1.2" and len(seen.certificates) == 2


def test_every_failure_names_the_target_and_the_cause() -> None:
    probe = SslTlsProbe()
    with closed_port() as port:
        with pytest.raises(EndpointError) as refused:
            probe.fetch("127.0.0.1", port)
    assert refused.value.user_message() == (
        f"127.0.0.1:{port}: the connection was refused (nothing listens on port {port})."
    )
    with PlainServer() as plain:
        with pytest.raises(EndpointError) as not_tls:
            probe.fetch("127.0.0.1", plain.port)
    assert not_tls.value.user_message() == (
        f"127.0.0.1:{plain.port}: the server answered, but not with TLS (not a TLS server)."
    )
    with SilentServer() as silent:
        with pytest.raises(EndpointError) as quiet:
            probe.fetch("127.0.0.1", silent.port, timeout=0.3)
    assert quiet.value.user_message() == (
        f"127.0.0.1:{silent.port}: the TLS handshake did not complete within 0.3 seconds "
        "(not a TLS server?)."
    )
    with pytest.raises(EndpointError) as unknown:
        probe.fetch("no-such-host.invalid", 443)  # RFC 6761 6.4: never resolves
    assert unknown.value.user_message().startswith(
        "no-such-host.invalid:443: the name no-such-host.invalid was not resolved ("
    )
    with pytest.raises(EndpointError, match=r"^\[::1\]:1: "):  # an IPv6 target, in brackets
        probe.fetch("::1", 1)
    with pytest.raises(EndpointError, match="timeout must be"):
        probe.fetch("127.0.0.1", 443, timeout=0)


def _days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
