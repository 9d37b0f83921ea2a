"""The client's WebSocket opening handshake (RFC 6455, section 4.1) on a connected socket.

websocket-client reads the server's answer one byte per ``recv`` (each through gevent's socket
and its timeout): at 3 000 FeedUsers that was most of a connect's CPU (bench.scale). Here the
request goes out in one ``send`` and the answer is read in chunks up to the blank line that ends
its head; what came after the head (the server's first frames, often in the same segment) is
returned for the frame reader. The whole answer must arrive within ``timeout`` seconds (one
deadline, not one per ``recv``) and its head within ``MAX_HEAD`` bytes.

Every failure is a :class:`HandshakeError` (a ``websocket.WebSocketException``, so what catches
websocket-client's errors catches these) with a one-line message; a status other than 101 is a
:class:`HandshakeStatusError` (also a ``websocket.WebSocketBadStatusException``), a deadline
passed a :class:`HandshakeTimeout` (also a ``websocket.WebSocketTimeoutException``). Other
socket errors (a reset, a refused write) pass through as they are.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

import websocket

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16 * 1024  # a longer head ends the handshake
CHUNK = 4096
_END = re.compile(rb"\r?\n\r?\n")  # the blank line after the head (bare LFs tolerated)


class HandshakeError(websocket.WebSocketException):
    """The server's answer to the WebSocket upgrade request is not an acceptance."""


class HandshakeStatusError(HandshakeError, websocket.WebSocketBadStatusException):
    """The server answered the upgrade request with a status other than 101."""

    def __init__(self, status: int, reason: str, headers: dict[str, str]) -> None:
        super().__init__(
            f"WebSocket upgrade refused: HTTP {status} {reason}".rstrip(), status, reason, headers
        )


class HandshakeTimeout(HandshakeError, websocket.WebSocketTimeoutException):
    """No complete answer to the upgrade request within the timeout."""


def accept_key(key: bytes) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer ``Sec-WebSocket-Key: key`` with."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode("ascii")


def host_header(host: str, port: int | None, default_port: int = 80) -> str:
    """``Host`` for ``host`` and ``port``: an IPv6 address in brackets, the default port left
    out."""
    name = f"[{host}]" if ":" in host else host
    return name if port is None or port == default_port else f"{name}:{port}"


def request(
    url: str, key: bytes, headers: Iterable[tuple[str, str]] = (), origin: bool = True
) -> bytes:
    """The upgrade request for ``url`` (``ws://host[:port]/path?query``) with ``key``;
    ``origin``: with ``Origin: http://<Host>``, as websocket-client sends it."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    host = host_header(parts.hostname or "", parts.port)
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode('ascii')}",
        "Sec-WebSocket-Version: 13",
        *((f"Origin: http://{host}",) if origin else ()),
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def handshake(
    sock: socket.socket,
    url: str,
    timeout: float,
    headers: Iterable[tuple[str, str]] = (),
    origin: bool = True,
) -> bytes:
    """Send the upgrade request for ``url`` on ``sock`` (connected to its host), check the
    answer, and return the bytes read past its head (the first frames, or ``b""``). ``headers``
    are added to the request (see :func:`request` for ``origin``). The socket's timeout is left
    at what remained of ``timeout``."""
    key = base64.b64encode(os.urandom(16))
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        sock.sendall(request(url, key, headers, origin))
    except TimeoutError:
        raise HandshakeTimeout(
            f"the WebSocket upgrade request not sent within {timeout:g} s"
        ) from None
    head, rest = _read_head(sock, deadline, timeout)
    status, reason, fields = parse_head(head)
    check(status, reason, fields, key)
    return rest


def _read_head(sock: socket.socket, deadline: float, timeout: float) -> tuple[bytes, bytes]:
    """The answer's head (without the blank line) and the bytes after it."""
    buf = bytearray()
    while True:
        try:
            data = sock.recv(CHUNK)
        except TimeoutError:
            raise _late(timeout, buf) from None
        if not data:
            raise HandshakeError(
                "the server closed the connection during the WebSocket upgrade answer "
                f"({len(buf)} bytes of it)"
            )
        start = max(0, len(buf) - 3)  # the blank line may have begun in the last chunk
        buf += data
        end = _END.search(buf, start)
        if end is not None and end.start() <= MAX_HEAD:
            return bytes(buf[: end.start()]), bytes(buf[end.end() :])
        if len(buf) > MAX_HEAD:
            raise HandshakeError(f"the WebSocket upgrade answer's head is over {MAX_HEAD} bytes")
        left = deadline - time.monotonic()
        if left <= 0:
            raise _late(timeout, buf)
        sock.settimeout(left)


def _late(timeout: float, buf: bytearray) -> HandshakeTimeout:
    return HandshakeTimeout(
        f"no complete answer to the WebSocket upgrade within {timeout:g} s ({len(buf)} bytes of it)"
    )


def parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    """Status, reason phrase and header fields (names lower case, repeated ones joined with
    ``", "``) of an HTTP/1.x response head."""
    lines = head.decode("latin-1").split("\n")
    status_line = lines[0].rstrip("\r")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise HandshakeError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
    fields: dict[str, str] = {}
    name = ""
    for line in lines[1:]:
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t") and name:  # obsolete line folding: part of the last value
            fields[name] = f"{fields[name]} {line.strip()}".strip()
            continue
        name, colon, value = line.partition(":")
        name = name.lower()
        if not colon or not name or name != name.strip():
            raise HandshakeError(f"not an HTTP header line: {line[:80]!r}")
        value = value.strip()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return int(code), reason.strip(), fields


def _tokens(value: str) -> list[str]:
    return [t.strip().lower() for t in value.split(",")]


def check(status: int, reason: str, fields: dict[str, str], key: bytes) -> None:
    """Raise unless the answer accepts the upgrade asked for with ``key`` (no extension)."""
    if status != 101:
        raise HandshakeStatusError(status, reason[:80], fields)
    if "websocket" not in _tokens(fields.get("upgrade", "")):
        raise HandshakeError(f"101 without Upgrade: websocket (Upgrade: {fields.get('upgrade')!r})")
    if "upgrade" not in _tokens(fields.get("connection", "")):
        raise HandshakeError(
            f"101 without Connection: upgrade (Connection: {fields.get('connection')!r})"
        )
    got = fields.get("sec-websocket-accept")
    if got is None:
        raise HandshakeError("101 without Sec-WebSocket-Accept")
    if got != accept_key(key):
        raise HandshakeError(f"101 with a wrong Sec-WebSocket-Accept ({got[:40]!r})")
    if fields.get("sec-websocket-extensions"):
        raise HandshakeError(
            "101 with an extension not asked for: "
            f"{fields['sec-websocket-extensions'][:80]!r} (frames would not be understood)"
        )
