"""WebSocketUser: a feed subscriber that measures delivery latency and stream integrity.

One connection per user. A receive greenlet reports every message (request name
``message <type>``, response time = receive wall time - the message's ``server_time``, using
the run's client clock, ``RunState.of(environment).clock.wall()``, which the clock_skew fault
shifts), tracks sequence numbers (``chaosbench.users.stream``), and on
any
disconnect or silence longer than ``idle_timeout`` reconnects with capped exponential backoff and
full jitter, resuming with ``?since=<last seq>``. Request names: ``connect`` (each attempt),
``reconnect`` (time from loss to a new connection), ``resume`` (did the resumed stream continue
exactly after the last message seen), ``disconnect`` (an unexpected loss, as a failure),
``sequence`` (a gap or duplicate, as a failure), ``connect cycle`` (connect + close).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import gevent
import gevent.event
import websocket
from websocket import ABNF

from chaosbench.ground.state import RunState
from chaosbench.users.base import Backoff, LoadUser
from chaosbench.users.options import LoadOptions
from chaosbench.users.stream import Seen, SequenceTracker
from chaosbench.users.targets import Target, url_target
from chaosbench.users.wshandshake import handshake


class StreamError(Exception):
    """The feed broke its contract: a gap, a duplicate, an incomplete resume, a bad message."""


class Disconnected(Exception):
    """The connection was lost (closed, reset, or silent for too long)."""


@dataclass(frozen=True)
class FeedMessage:
    seq: int | None
    type: str
    server_time: float | None
    data: Any
    raw: dict[str, Any]


def with_since(url: str, since: int | None, param: str = "since") -> str:
    if since is None:
        return url
    parts = urlsplit(url)
    query = f"{parts.query}&{param}={since}" if parts.query else f"{param}={since}"
    return urlunsplit(parts._replace(query=query))


#: what makes websocket-client go through a proxy for a ``ws://`` URL
PROXY_ENV = ("http_proxy", "HTTP_PROXY")


def direct_socket(url: str, timeout: float) -> socket.socket | None:
    """The TCP connection for ``url``, made here when websocket-client's own way adds nothing: a
    ``ws://`` URL to an IP address and no proxy in the environment. Its way looks the proxy
    settings up on every connect (about 30 µs: a fifth of a FeedUser's samples at 3 000 users,
    bench.scale) and resolves even an IP address through gevent's thread pool. None: let
    websocket-client connect (a name, ``wss://``, a proxy)."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme != "ws" or not host or any(k in os.environ for k in PROXY_ENV):
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    sock = socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET)
    try:
        sock.settimeout(timeout)
        for opt in websocket.DEFAULT_SOCKET_OPTION:
            sock.setsockopt(*opt)
        sock.connect((host, parts.port or 80))
    except BaseException:
        sock.close()
        raise
    return sock


def open_connection(url: str, timeout: float) -> tuple[websocket.WebSocket, bytes]:
    """A connected ``websocket.WebSocket`` for ``url`` (for sending: ping, pong, send, close)
    and the bytes its server sent after the handshake's answer (the first frames, for a
    :class:`FrameReader`), ``timeout`` for TCP connect and handshake.

    Where :func:`direct_socket` connects (``ws://`` to an IP address, no proxy), the handshake
    is the user's own (``chaosbench.users.wshandshake``: the answer read in chunks, not one byte
    per ``recv``) and the WebSocket object is built around the socket; otherwise
    websocket-client's ``create_connection`` connects and shakes hands, as before."""
    sock = direct_socket(url, timeout)
    if sock is None:
        ws = websocket.create_connection(
            url,
            timeout=timeout,
            enable_multithread=True,
            skip_utf8_validation=True,
        )
        return ws, b""
    try:
        rest = handshake(sock, url, timeout)
    except BaseException:  # GreenletExit included: the socket is not left open
        sock.close()
        raise
    ws = websocket.WebSocket(enable_multithread=True, skip_utf8_validation=True)
    ws.sock = sock  # what create_connection's connect() sets, but for handshake_response
    ws.connected = True
    ws.settimeout(timeout)
    return ws, rest


def drop_socket(ws: websocket.WebSocket) -> None:
    """Shut the connection's socket down and close it at once (wakes a blocked receiver).

    websocket-client's own ``abort()``/``shutdown()`` catch only ``OSError``/``AttributeError``,
    so the ``GreenletExit`` Locust stops a user with goes through."""
    try:
        ws.abort()
    finally:
        ws.shutdown()


def close_socket(
    ws: websocket.WebSocket, timeout: float, reader: FrameReader | None = None
) -> None:
    """The closing handshake (close frame, wait up to ``timeout`` for the server's, read with
    ``reader``, else a new :class:`FrameReader` on the socket), then the socket closed.

    Not ``ws.close()``: it ends in a bare ``except: pass`` that swallows the ``GreenletExit``
    Locust stops a user with, and a user killed while closing would never stop. Here only
    ``Exception`` is caught; ``GreenletExit`` (a ``BaseException``) ends the user, and the socket
    is closed on every path."""
    try:
        ws.send_close()
        ws.settimeout(timeout)
        if reader is None:
            reader = FrameReader(ws.sock)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reader.next()[0] == ABNF.OPCODE_CLOSE:
                break
    except Exception:  # a broken or silent peer: the socket is closed below anyway
        pass
    finally:
        drop_socket(ws)


class FrameError(Exception):
    """A frame the WebSocket protocol does not allow (RFC 6455, section 5)."""


MAX_MESSAGE = 16 * 1024 * 1024  # a larger frame or message ends the connection
_DATA_OPCODES = (ABNF.OPCODE_CONT, ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY)
_CONTROL_OPCODES = (ABNF.OPCODE_CLOSE, ABNF.OPCODE_PING, ABNF.OPCODE_PONG)


def unmask(mask: bytes, data: bytes) -> bytes:
    """``data`` XOR the 4-byte ``mask`` repeated (a server must not mask; tolerated)."""
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class FrameReader:
    """The server's frames, read from the connection's socket in large chunks.

    websocket-client reads each frame with two or three ``recv`` calls (header, length,
    payload), each through its timeout bookkeeping: at thousands of feed messages a second that
    was most of a FeedUser's time. Here one ``recv`` brings every frame the kernel holds and
    they are cut from the buffer. ``next()`` returns one whole message (fragments joined) or one
    control frame as ``(opcode, payload)``; an idle socket raises ``TimeoutError`` (its timeout
    is the user's ``idle_timeout``), a closed one ``ConnectionError``, a bad frame ``FrameError``.
    For after the opening handshake: ``initial`` is what was read past its answer (the user's
    own handshake reads in chunks; websocket-client's reads byte by byte and leaves nothing).
    """

    def __init__(self, sock: Any, chunk: int = 65536, initial: bytes = b"") -> None:
        self.sock = sock
        self.chunk = chunk
        self.buf = bytearray(initial)
        self.pos = 0
        self._parts: list[bytes] = []
        self._size = 0
        self._opcode = 0

    def next(self) -> tuple[int, bytes]:
        while True:
            frame = self._frame()
            if frame is None:
                self._fill()
                continue
            fin, opcode, payload = frame
            if opcode >= ABNF.OPCODE_CLOSE:  # control frames may come between fragments
                return opcode, payload
            if opcode == ABNF.OPCODE_CONT:
                if not self._parts:
                    raise FrameError("a continuation frame without a message to continue")
            elif self._parts:
                raise FrameError("a new message inside a fragmented one")
            else:
                self._opcode = opcode
            if fin and not self._parts:
                return opcode, payload  # the usual case: one frame, one message
            self._parts.append(payload)
            self._size += len(payload)
            if self._size > MAX_MESSAGE:
                raise FrameError(f"a message over {MAX_MESSAGE} bytes")
            if fin:
                parts, self._parts, self._size = self._parts, [], 0
                return self._opcode, b"".join(parts)

    def _fill(self) -> None:
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        data = self.sock.recv(self.chunk)
        if not data:
            raise ConnectionError("connection closed")
        self.buf += data

    def _frame(self) -> tuple[bool, int, bytes] | None:
        """The next whole frame in the buffer (consumed), or None when it is not all there."""
        buf, pos = self.buf, self.pos
        avail = len(buf) - pos
        if avail < 2:
            return None
        b0, b1 = buf[pos], buf[pos + 1]
        if b0 & 0x70:
            raise FrameError("reserved bits set (no extension was negotiated)")
        opcode = b0 & 0x0F
        if opcode not in _DATA_OPCODES and opcode not in _CONTROL_OPCODES:
            raise FrameError(f"unknown opcode {opcode:#x}")
        length = b1 & 0x7F
        head = 2
        if length == 126:
            if avail < 4:
                return None
            length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
        elif length == 127:
            if avail < 10:
                return None
            length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
        fin = bool(b0 & 0x80)
        if opcode >= ABNF.OPCODE_CLOSE and (length > 125 or not fin):
            raise FrameError("a control frame longer than 125 bytes or fragmented")
        if length > MAX_MESSAGE:
            raise FrameError(f"a frame of {length} bytes (over {MAX_MESSAGE})")
        masked = b1 & 0x80
        start = pos + head + (4 if masked else 0)
        if len(buf) < start + length:
            return None
        payload = bytes(buf[start : start + length])
        if masked:
            payload = unmask(bytes(buf[start - 4 : start]), payload)
        self.pos = start + length
        return fin, opcode, payload


class WebSocketUser(LoadUser):
    """Abstract WebSocket feed user (gevent-patched sockets; websocket-client for sending, and
    for connecting where :func:`open_connection` does not connect itself).

    Class attributes:
      ws_url: feed URL (default: ``--ws-url``, else derived from ``--host``).
      connect_timeout: seconds for TCP connect + handshake.
      idle_timeout: seconds without any bytes after which the connection is considered dead.
      ping_interval: seconds between pings (keeps a quiet but healthy connection alive).
      backoff_base, backoff_cap: reconnect backoff (full jitter) in seconds.
      resume_param: query parameter that carries the last sequence seen on reconnect.
      subscribe_message: sent after each connect, if set.
    """

    abstract = True
    kind = "WS"
    ws_url: str | None = None
    connect_timeout: float = 5.0
    idle_timeout: float = 6.0
    ping_interval: float = 2.0
    backoff_base: float = 0.1
    backoff_cap: float = 5.0
    resume_param: str = "since"
    subscribe_message: str | None = None

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        state = RunState.of(environment)
        self.clock = state.clock  # the clients' clock (skewed by clock_skew), not the recorder's
        self.counters = state.counters
        self.tracker = SequenceTracker()
        self.ws: websocket.WebSocket | None = None
        self._reader: FrameReader | None = None
        self.connected = gevent.event.Event()
        self.connects = 0
        self.reconnects = 0
        self._backoff = Backoff(self.backoff_base, self.backoff_cap)
        self._lost_at: float | None = None  # perf_counter of the last loss
        self._resume_expected: int | None = None
        self._greenlets: list[gevent.Greenlet] = []
        self._stopping = False

    @classmethod
    def feed_url_for(cls, opts: LoadOptions) -> str:
        url = cls.ws_url or opts.feed_url()
        if not url:
            from chaosbench.ground.errors import OptionError

            raise OptionError(f"--ws-url: {cls.__name__} needs the WebSocket URL (or --host)")
        return url

    @classmethod
    def targets(cls, opts: LoadOptions) -> list[Target]:
        url = cls.feed_url_for(opts)
        default = 443 if url.startswith("wss") else 80
        return [url_target("WebSocket feed", url, "--ws-url", default)]

    # -- lifecycle -----------------------------------------------------------------------------
    def on_start(self) -> None:
        super().on_start()
        self._open(since=None, name="connect")
        self._greenlets = [gevent.spawn(self._receive_loop), gevent.spawn(self._keepalive)]

    def on_stop(self) -> None:
        self._stopping = True
        gevent.killall(self._greenlets, block=False)
        self._close()

    # -- hooks ---------------------------------------------------------------------------------
    def on_message(self, message: FeedMessage) -> None:
        """Called for every parsed message after it was reported (override to act on it)."""

    # -- connection ----------------------------------------------------------------------------
    def _url(self, since: int | None) -> str:
        return with_since(self.feed_url_for(self.options), since, self.resume_param)

    def _open(self, since: int | None, name: str) -> bool:
        with self.measure("WS", name, timeout=self.connect_timeout + 1.0, paced=False) as m:
            ws, rest = open_connection(self._url(since), self.connect_timeout)
            try:
                ws.settimeout(self.idle_timeout)
                if self.subscribe_message is not None:
                    ws.send(self.subscribe_message)
            except BaseException:  # the operation's timeout or GreenletExit: not left open
                drop_socket(ws)
                raise
            self._reader = FrameReader(ws.sock, initial=rest)
            self.ws = ws
        if m.ok:
            self.connects += 1
            self.connected.set()
        return m.ok

    def _close(self) -> None:
        ws, self.ws = self.ws, None
        self._reader = None
        self.connected.clear()
        if ws is not None:
            drop_socket(ws)

    def _event(self, name: str, problem: BaseException) -> None:
        """A zero-duration stream failure (disconnect, gap, duplicate), reported as ``name``."""
        now = time.perf_counter()
        self.report(
            "WS", name, start_perf=now, start_wall=time.time(), end_perf=now, exception=problem
        )

    def _lost(self, reason: BaseException) -> None:
        if self._stopping:
            return
        self._event("disconnect", Disconnected(f"{type(reason).__name__}: {reason}"[:200]))
        self._lost_at = time.perf_counter()
        self._close()

    def _reconnect(self) -> None:
        """Reconnect with backoff until connected, resuming after the last sequence seen."""
        lost_at = self._lost_at if self._lost_at is not None else time.perf_counter()
        lost_wall = time.time() - (time.perf_counter() - lost_at)
        while not self._stopping:
            gevent.sleep(self._backoff.next_delay())
            if self._open(since=self.tracker.last, name="connect"):
                break
        self._backoff.reset()
        self.reconnects += 1
        self.counters.ws_stream(resumes=1)
        if self.tracker.last is not None:
            self._resume_expected = self.tracker.last + 1
        self.report(
            "WS",
            "reconnect",
            start_perf=lost_at,
            start_wall=lost_wall,
            end_perf=time.perf_counter(),
        )

    def _keepalive(self) -> None:
        while not self._stopping:
            gevent.sleep(self.ping_interval)
            ws = self.ws
            if ws is not None:
                try:
                    ws.ping()
                except Exception:
                    pass  # the receive loop notices the broken connection

    # -- receiving -----------------------------------------------------------------------------
    def _receive_loop(self) -> None:
        while not self._stopping:
            ws = self.ws
            if ws is None:
                self._reconnect()
                continue
            try:
                opcode, payload = self._read(ws)
            except TimeoutError:
                self._lost(Disconnected(f"no data for {self.idle_timeout:g} s"))
                continue
            except Exception as exc:
                self._lost(exc)
                continue
            if opcode == ABNF.OPCODE_TEXT or opcode == ABNF.OPCODE_BINARY:
                self._handle(payload)
            elif opcode == ABNF.OPCODE_PING:
                self._answer(ws.pong, payload)
            elif opcode == ABNF.OPCODE_CLOSE:
                self._answer(ws.send_close)
                self._lost(Disconnected("closed by the server"))

    def _read(self, ws: websocket.WebSocket) -> tuple[int, bytes]:
        """The next message or control frame of ``ws``: ``(opcode, payload)``; ``TimeoutError``
        after ``idle_timeout`` without a byte."""
        reader = self._reader
        if reader is None or reader.sock is not ws.sock:
            raise ConnectionError("no connection")
        return reader.next()

    @staticmethod
    def _answer(send: Any, *args: Any) -> None:
        """A pong or the closing frame back; a connection that broke meanwhile is noticed by the
        next read."""
        try:
            send(*args)
        except Exception:
            pass

    def _handle(self, payload: bytes) -> None:
        received = self.clock.wall()
        now = time.perf_counter()
        try:
            raw = json.loads(payload)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            seq = raw.get("seq")
            server_time = raw.get("server_time")
            msg = FeedMessage(
                seq=int(seq) if seq is not None else None,
                type=str(raw.get("type", "message")),
                server_time=float(server_time) if server_time is not None else None,
                data=raw.get("data"),
                raw=raw,
            )
        except (ValueError, TypeError) as exc:
            self.report(
                "WS",
                "message",
                start_perf=now,
                start_wall=time.time(),
                end_perf=now,
                response_length=len(payload),
                exception=StreamError(f"bad message: {exc}"),
            )
            return
        latency = max(0.0, received - msg.server_time) if msg.server_time is not None else 0.0
        name = f"message {msg.type}" if msg.type in ("quote", "order", "gap") else "message other"
        if msg.type == "gap":
            self._server_gap(msg)
        elif msg.seq is not None:
            self._sequence(msg.seq)
        self.report(
            "WS",
            name,
            start_perf=now - latency,
            start_wall=time.time() - latency,
            end_perf=now,
            response_length=len(payload),
            intended=None,
        )
        self.counters.ws_stream(messages=1)
        self.on_message(msg)

    def _sequence(self, seq: int) -> None:
        obs = self.tracker.observe(seq)
        if obs.gaps or obs.duplicates or obs.reorders:
            self.counters.ws_stream(gaps=obs.gaps, duplicates=obs.duplicates, reorders=obs.reorders)
        if obs.kind is Seen.GAP:
            self._event(
                "sequence", StreamError(f"gap: {obs.gaps} message(s) missing before seq {seq}")
            )
        elif obs.kind is Seen.DUPLICATE and self._resume_expected is None:
            self._event("sequence", StreamError(f"duplicate seq {seq}"))
        expected = self._resume_expected
        if expected is not None and seq >= expected:
            self._resume_expected = None
            problem = None
            if seq > expected:
                problem = StreamError(
                    f"resumed at seq {seq}, expected {expected}: {seq - expected} message(s) lost"
                )
            self._report_resume(problem)

    def _server_gap(self, msg: FeedMessage) -> None:
        first = int(msg.raw.get("from", 0))
        last = int(msg.raw.get("to", first))
        lost = self.tracker.server_gap(first, last)
        self.counters.ws_stream(gaps=lost)
        reason = msg.raw.get("reason", "")
        problem = StreamError(f"server gap {first}..{last} ({lost} lost): {reason}"[:200])
        self._event("sequence", problem)
        if self._resume_expected is not None:
            self._resume_expected = None
            self._report_resume(problem)

    def _report_resume(self, problem: BaseException | None) -> None:
        lost_at = self._lost_at if self._lost_at is not None else time.perf_counter()
        end = time.perf_counter()
        self.report(
            "WS",
            "resume",
            start_perf=lost_at,
            start_wall=time.time() - (end - lost_at),
            end_perf=end,
            exception=problem,
        )

    # -- tasks for subclasses ------------------------------------------------------------------
    def connect_cycle(self) -> bool:
        """Connect and disconnect once on a separate connection, reported as ``connect cycle``."""
        with self.measure("WS", "connect cycle", timeout=self.connect_timeout + 2.0) as m:
            ws, rest = open_connection(self.feed_url_for(self.options), self.connect_timeout)
            close_socket(ws, timeout=1.0, reader=FrameReader(ws.sock, initial=rest))
        return m.ok
