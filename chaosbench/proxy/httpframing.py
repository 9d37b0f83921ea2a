"""Just enough HTTP/1.x to find where messages begin and end, so that bytes are relayed exactly
as they came (no re-serialisation) while the proxy still acts per request.

``MessageReader`` buffers one socket; ``read_head()`` returns a message head, ``body()`` yields the
raw bytes of the body that follows (Content-Length, chunked with trailers, or until close).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

MAX_HEAD = 65536
RECV_SIZE = 65536


class Closed(Exception):
    """The peer closed (or the message cannot continue)."""


class BadMessage(Exception):
    """Not HTTP/1.x as the proxy can relay it."""


@dataclass
class Head:
    raw: bytes  # the whole head, CRLFCRLF included
    first: bytes  # request line or status line
    lines: list[bytes]  # raw header lines
    headers: dict[bytes, bytes]  # lower-cased name -> value (repeated names joined by ",")

    @classmethod
    def parse(cls, raw: bytes) -> Head:
        text = raw[:-4] if raw.endswith(b"\r\n\r\n") else raw
        first, *lines = text.split(b"\r\n")
        headers: dict[bytes, bytes] = {}
        for line in lines:
            name, sep, value = line.partition(b":")
            if not sep:
                raise BadMessage(f"bad header line {line[:40]!r}")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = headers[key] + b"," + value if key in headers else value
        return cls(raw, first, lines, headers)

    def tokens(self, name: bytes) -> set[bytes]:
        value = self.headers.get(name)
        if value is None:
            return set()
        return {t.strip().lower() for t in value.split(b",")}

    def without(self, names: set[bytes]) -> bytes:
        """The head with the named headers removed."""
        kept = [ln for ln in self.lines if ln.partition(b":")[0].strip().lower() not in names]
        return b"\r\n".join([self.first, *kept]) + b"\r\n\r\n"

    def content_length(self) -> int | None:
        value = self.headers.get(b"content-length")
        if value is None:
            return None
        try:
            n = int(value.split(b",")[0])
        except ValueError:
            raise BadMessage(f"bad Content-Length {value!r}") from None
        if n < 0:
            raise BadMessage(f"bad Content-Length {value!r}")
        return n


@dataclass(frozen=True)
class Request:
    head: Head
    method: bytes
    target: bytes
    version: bytes

    @classmethod
    def parse(cls, head: Head) -> Request:
        parts = head.first.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            raise BadMessage(f"bad request line {head.first[:60]!r}")
        return cls(head, parts[0], parts[1], parts[2])

    @property
    def path(self) -> str:
        return self.target.decode("latin-1").split("?", 1)[0]

    def framing(self) -> tuple[str, int]:
        if b"chunked" in self.head.tokens(b"transfer-encoding"):
            return "chunked", 0
        n = self.head.content_length()
        return ("length", n) if n else ("none", 0)

    def wants_close(self) -> bool:
        conn = self.head.tokens(b"connection")
        if self.version == b"HTTP/1.0":
            return b"keep-alive" not in conn
        return b"close" in conn

    def is_websocket_upgrade(self) -> bool:
        return b"websocket" in self.head.tokens(b"upgrade")


@dataclass(frozen=True)
class Response:
    head: Head
    version: bytes
    status: int

    @classmethod
    def parse(cls, head: Head) -> Response:
        parts = head.first.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise BadMessage(f"bad status line {head.first[:60]!r}")
        return cls(head, parts[0], int(parts[1]))

    def framing(self, request_method: bytes) -> tuple[str, int]:
        if request_method == b"HEAD" or self.status < 200 or self.status in (204, 304):
            return "none", 0
        if b"chunked" in self.head.tokens(b"transfer-encoding"):
            return "chunked", 0
        n = self.head.content_length()
        if n is not None:
            return ("length", n) if n else ("none", 0)
        return "close", 0

    def closes(self) -> bool:
        conn = self.head.tokens(b"connection")
        if self.version == b"HTTP/1.0":
            return b"keep-alive" not in conn
        return b"close" in conn


class MessageReader:
    """Buffered reading of one socket; ``before_wait`` runs before every blocking ``recv``."""

    def __init__(self, sock: socket.socket, before_wait: Callable[[], None]) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.before_wait = before_wait

    def _fill(self) -> None:
        self.before_wait()
        data = self.sock.recv(RECV_SIZE)
        if not data:
            raise Closed()
        self.buf += data

    def take(self) -> bytes:
        """Whatever is buffered (for the switch to WebSocket relaying)."""
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def read_head(self) -> Head | None:
        """The next message head; None when the peer closed cleanly between messages."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                raw = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                return Head.parse(raw)
            if len(self.buf) > MAX_HEAD:
                raise BadMessage("message head larger than 64 KiB")
            try:
                self._fill()
            except Closed:
                if self.buf.strip():
                    raise
                return None

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[: end + 2])
                del self.buf[: end + 2]
                return line
            if len(self.buf) > MAX_HEAD:
                raise BadMessage("chunk line too long")
            self._fill()

    def _exactly(self, n: int) -> Iterator[bytes]:
        while n > 0:
            if not self.buf:
                self._fill()
            piece = bytes(self.buf[:n])
            del self.buf[: len(piece)]
            n -= len(piece)
            yield piece

    def body(self, framing: tuple[str, int]) -> Iterator[bytes]:
        """The raw bytes of a body, in pieces as they arrive."""
        kind, n = framing
        if kind == "length":
            yield from self._exactly(n)
        elif kind == "chunked":
            while True:
                line = self._line()
                yield line
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadMessage(f"bad chunk size line {line[:40]!r}") from None
                if size == 0:
                    while True:  # trailers, then the empty line
                        trailer = self._line()
                        yield trailer
                        if trailer == b"\r\n":
                            return
                yield from self._exactly(size + 2)
        elif kind == "close":
            if self.buf:
                yield self.take()
            while True:
                try:
                    self._fill()
                except Closed:
                    return
                yield self.take()
