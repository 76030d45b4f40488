"""The agent's service: requests over mutual TLS, keys into the token.

``Agent`` answers requests (``status``, ``install``) on its token; ``AgentServer`` listens
with mutual TLS and hands each connection's requests to the agent, one thread per
connection. Every request is logged to ``home/agent.log`` with the client certificate's
subject; key blocks and keys never are.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
from typing import Any

from workstation.agent import AGENT_VERSION
from workstation.agent.components import kek_algorithm, wipe
from workstation.agent.config import AgentConfig
from workstation.agent.protocol import (
    InstallRequest,
    ProtocolError,
    encode_message,
    error_answer,
    parse_install,
    read_message,
)
from workstation.agent.tls import server_context
from workstation.agent.token import (
    KcvMismatch,
    KeyToken,
    TokenFailure,
    capabilities_for_mode,
    open_token,
)
from workstation.standards import tr31

__all__ = ["Agent", "AgentServer", "open_agent_token"]

CONNECTION_TIMEOUT = 30.0  # seconds a client may stay silent before the agent hangs up


def open_agent_token(config: AgentConfig) -> KeyToken:
    return open_token(
        config.token.module,
        config.token.label,
        config.token_pin(),
        environment=config.token_environment(),
    )


def _agent_logger(config: AgentConfig) -> logging.Logger:
    logger = logging.getLogger(f"workstation.agent.{config.name}.{id(config)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(config.log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return logger


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Agent:
    """The agent's answers, on its token. Thread-safe: installs are serialised, so the same
    delivery arriving twice at once still makes one key."""

    def __init__(self, config: AgentConfig, token: KeyToken | None = None) -> None:
        self.config = config
        self.token = token if token is not None else open_agent_token(config)
        self.log = _agent_logger(config)
        self._install_lock = threading.Lock()

    def close(self) -> None:
        self.token.close()
        for handler in list(self.log.handlers):
            self.log.removeHandler(handler)
            handler.close()

    # --- requests ------------------------------------------------------------------------

    def handle(self, message: dict[str, Any], client: str) -> dict[str, Any]:
        op = message.get("op")
        try:
            if message.get("v") != 1:
                raise _Refused("bad-request", f"protocol version {message.get('v')!r} is not 1")
            if op == "status":
                answer = self.status()
                self.log.info("client=%r status: %d keys held", client, len(answer["held"]))
                return answer
            if op == "install":
                request = parse_install(message)
                answer = self.install(request)
                self.log.info(
                    "client=%r install delivery=%r key=%r version=%d: %s, check value %s",
                    client,
                    request.delivery_id,
                    request.key_id,
                    request.version,
                    "installed" if answer["installed"] else "already held, nothing done",
                    answer["kcv"],
                )
                return answer
            raise _Refused("bad-request", f"unknown operation {op!r}")
        except ProtocolError as exc:
            self.log.warning("client=%r %s refused: %s", client, op, exc)
            return error_answer("bad-request", str(exc))
        except _Refused as exc:
            self.log.warning("client=%r %s refused (%s): %s", client, op, exc.code, exc.message)
            return error_answer(exc.code, exc.message)
        except TokenFailure as exc:
            self.log.error("client=%r %s failed in the token: %s", client, op, exc)
            return error_answer("token", str(exc))

    def status(self) -> dict[str, Any]:
        kek = self.config.kek
        return {
            "ok": True,
            "agent": self.config.name,
            "agent_version": AGENT_VERSION,
            "token": self.token.label,
            "kek_label": kek.label if kek else "",
            "kek_algorithm": kek.algorithm if kek else "",
            "kek_kcv": kek.kcv if kek else "",
            "held": [entry.to_json() for entry in self.token.held()],
        }

    def _check_header(self, header: tr31.Header, request: InstallRequest, version: str) -> None:
        if header.version_id != version:
            raise _Refused(
                "refused",
                f"key block version {header.version_id} is not accepted: this agent's KEK "
                f"protects version {version} blocks",
            )
        if header.key_usage not in self.config.key_usages:
            raise _Refused("refused", f"key usage {header.key_usage} is not accepted here")
        if header.exportability not in self.config.exportability:
            raise _Refused("refused", f"exportability {header.exportability} is not accepted here")
        expected = "A" if request.algorithm.startswith("AES") else "T"
        if header.algorithm != expected:
            raise _Refused(
                "refused",
                f"the block's algorithm {header.algorithm!r} is not that of a "
                f"{request.algorithm} key ({expected!r})",
            )
        if capabilities_for_mode(header.mode_of_use) is None:
            raise _Refused("refused", f"mode of use {header.mode_of_use!r} is not supported")

    def install(self, request: InstallRequest) -> dict[str, Any]:
        kek = self.config.kek
        if kek is None:
            raise _Refused("no-kek", "no KEK is loaded: run 'workstation-agent load-kek'")
        algorithm = kek_algorithm(kek.algorithm)
        try:
            header = tr31.parse(request.key_block)
        except tr31.TR31Error as exc:
            raise _Refused("bad-block", f"the key block is malformed: {exc}") from None
        self._check_header(header, request, algorithm.tr31_version)
        capabilities = capabilities_for_mode(header.mode_of_use)
        assert capabilities is not None
        with self._install_lock:
            held = self.token.find(request.key_id, request.version)
            if held is not None:
                if held.kcv[: len(request.kcv)] != request.kcv[: len(held.kcv)]:
                    raise _Refused(
                        "kcv-mismatch",
                        f"version {request.version} of key {request.key_id} is held already "
                        f"with check value {held.kcv}, not {request.kcv}",
                    )
                return {"ok": True, "installed": False, "kcv": held.kcv}

            def kbpk_check_value(kcv_algorithm: str, length: int) -> bytes:
                if kcv_algorithm == "01":
                    block = bytes(16 if algorithm.family == "AES" else 8)
                    return self.token.kek_cmac(kek.label, algorithm.family, block)[:length]
                if algorithm.family == "TDES" and length <= 3:
                    return bytes.fromhex(kek.kcv)[:length]
                raise tr31.TR31Error(
                    "Optional block 'KP' uses the legacy check value of an AES KBPK, which "
                    "this agent does not compute (its KEK only computes CMACs)"
                )

            kbek, kbak = self.token.derive_binding_keys(
                kek.label, algorithm.family, algorithm.length
            )
            try:
                header, key = tr31.unwrap_with_binding_keys(
                    kbek,
                    kbak,
                    request.key_block,
                    kbpk_strength=kek.strength,
                    kbpk_check_value=kbpk_check_value,
                )
            except tr31.TR31Error as exc:
                raise _Refused("bad-block", f"the key block is refused: {exc}") from None
            finally:
                wipe(kbek)
                wipe(kbak)
            try:
                installed, kcv = self.token.install_clear(
                    key_id=request.key_id,
                    version=request.version,
                    label=request.label,
                    algorithm=request.algorithm,
                    value=key,
                    capabilities=capabilities,
                    expected_kcv=request.kcv,
                )
            except KcvMismatch as exc:
                raise _Refused("kcv-mismatch", str(exc)) from None
            finally:
                wipe(key)
        return {"ok": True, "installed": installed, "kcv": kcv}


def _subject_cn(peer: dict[str, Any] | None) -> str:
    for rdn in (peer or {}).get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return ""


class _Handler(socketserver.BaseRequestHandler):
    server: _TlsServer

    def handle(self) -> None:
        raw: socket.socket = self.request
        raw.settimeout(CONNECTION_TIMEOUT)
        agent = self.server.agent
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        try:
            connection = self.server.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            agent.log.warning("peer=%s TLS handshake refused: %s", peer, exc)
            return
        self.server.track(connection, True)
        try:
            client = _subject_cn(connection.getpeercert())
            allowed = agent.config.allowed_clients
            if allowed and client not in allowed:
                agent.log.warning("peer=%s client %r is not an allowed client", peer, client)
                # Answer its first request (not before it: a reset connection could lose the
                # answer), then hang up.
                if read_message(connection) is not None:
                    refusal = error_answer("refused", f"client {client!r} is not allowed here")
                    connection.sendall(encode_message(refusal))
                return
            while True:
                try:
                    message = read_message(connection)
                except ProtocolError as exc:
                    connection.sendall(encode_message(error_answer("bad-request", str(exc))))
                    return
                if message is None:
                    return
                connection.sendall(encode_message(agent.handle(message, client)))
        except (OSError, EOFError, ssl.SSLError, ProtocolError):
            return
        finally:
            self.server.track(connection, False)
            try:
                connection.close()
            except OSError:
                pass


class _TlsServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], agent: Agent, context: ssl.SSLContext):
        self.agent = agent
        self.context = context
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, opened: bool) -> None:
        with self._open_lock:
            if opened:
                self._open.add(connection)
            else:
                self._open.discard(connection)

    def drop_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class AgentServer:
    """The agent listening on its configured address with mutual TLS.

    ``serve_forever()`` in the calling thread (the program), or ``start()`` in a thread of
    its own (tests, the fleet); ``stop()`` stops listening, drops open connections and
    closes the token.
    """

    def __init__(self, config: AgentConfig, *, token: KeyToken | None = None) -> None:
        context = server_context(config.tls_dir)
        self.agent = Agent(config, token)
        try:
            self._server = _TlsServer(config.host_port, self.agent, context)
        except OSError:
            self.agent.close()
            raise
        self._thread: threading.Thread | None = None
        self.agent.log.info(
            "agent %s %s listening on %s:%d, token %r, KEK %r",
            config.name,
            AGENT_VERSION,
            *self.address,
            config.token.label,
            config.kek.label if config.kek else None,
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"agent-{self.agent.config.name}", daemon=True
        )
        self._thread.start()

    def shutdown(self) -> None:
        """Stop serving (from another thread than ``serve_forever``'s)."""
        self._server.shutdown()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._server.drop_connections()
        self.agent.log.info("agent %s stopped", self.agent.config.name)
        self.agent.close()
