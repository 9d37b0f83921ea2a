"""The toxic contract: a generic envelope (name, type, stream, toxicity) kept apart from the
toxic's own attributes (a pydantic model), and per-connection state that does the work.

Three kinds, by the layer they act on:

- ``TcpToxic``: bytes of one direction of a connection (Toxiproxy's toxics);
- ``HttpToxic``: requests of a ``protocol: http`` proxy (answer instead of forwarding, delay);
- ``WsToxic``: server-to-client WebSocket messages of a ``protocol: http`` proxy.

A toxic definition (``Toxic``) is created by the API and replaced, never mutated, on update; its
``removed`` event wakes every connection that is waiting on it, so a revert takes effect at once.
Each connection asks the definition for a state (``new_state``) when the toxic's toxicity roll
for that connection succeeds (Toxiproxy's per-connection toxicity).

A toxic offered to the chaos profiles also declares ``profile_name`` (the profile's fault
``type``) and ``Profile`` (its settings there and how intensity scales them, see
``profile.py``). Whether a real Toxiproxy has the toxic follows from its kind (``extension``).
"""

from __future__ import annotations

import abc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import gevent
import gevent.event
from pydantic import BaseModel, ConfigDict

from chaosbench.proxy.toxics.profile import ToxicProfile

STREAMS = ("upstream", "downstream")


class ToxicAttributes(BaseModel):
    """Base of a toxic's own attributes: unknown keys are errors.

    ``seed`` (optional, every toxic): seeds the toxic's generator (jitter, slice sizes,
    toxicity draws per connection, rates per request/message), so a run can be repeated.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int | None = None


class RateAttributes(ToxicAttributes):
    """Attributes shared by the per-request / per-message extension toxics."""

    rate: float = 1.0

    def model_post_init(self, __context: Any) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate {self.rate} is not within 0..1")


@dataclass(frozen=True)
class Envelope:
    """What every toxic has, whatever its type (Toxiproxy's ToxicWrapper fields)."""

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0


class LinkHandle(Protocol):
    """What a toxic state may do to its connection."""

    def close(self, reset: bool = False) -> None: ...


class CloseLink(Exception):
    """Raised by a TCP toxic state to end the connection (``reset``: with a TCP RST)."""

    def __init__(self, reset: bool = False) -> None:
        super().__init__("reset" if reset else "close")
        self.reset = reset


class Toxic(abc.ABC):
    """One toxic on one proxy, as the API created it."""

    type_name: ClassVar[str]
    kind: ClassVar[str] = "tcp"
    Attributes: ClassVar[type[ToxicAttributes]]
    #: True when only the embedded proxy has it (refused against a real Toxiproxy). Set by
    #: the kind: TCP toxics are Toxiproxy's own, HTTP and WebSocket toxics are extensions.
    extension: ClassVar[bool] = False
    #: The fault type profiles use for this toxic (None: not offered as a fault).
    profile_name: ClassVar[str | None] = None
    #: The fault's settings in a profile, and how intensity scales them into ``Attributes``.
    Profile: ClassVar[type[ToxicProfile] | None] = None

    def __init__(self, envelope: Envelope, attributes: ToxicAttributes) -> None:
        self.envelope = envelope
        self.attributes = attributes
        self.removed = gevent.event.Event()
        seed = getattr(attributes, "seed", None)
        self.rng = random.Random(seed)

    @property
    def name(self) -> str:
        return self.envelope.name

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": self.attributes.model_dump(mode="json", exclude_none=True),
            "name": self.envelope.name,
            "type": self.envelope.type,
            "stream": self.envelope.stream,
            "toxicity": self.envelope.toxicity,
        }

    def roll(self) -> bool:
        """Toxicity: does this toxic act on a new connection?"""
        t = self.envelope.toxicity
        return t >= 1.0 or (t > 0.0 and self.rng.random() < t)

    def chance(self, rate: float) -> bool:
        """One Bernoulli draw from the toxic's (optionally seeded) generator."""
        return rate >= 1.0 or (rate > 0.0 and self.rng.random() < rate)

    def wait(self, seconds: float | None) -> bool:
        """Sleep up to ``seconds`` (None: until removed). True when the toxic was removed."""
        if seconds is not None and seconds <= 0:
            return self.removed.is_set()
        return bool(self.removed.wait(seconds))

    def wait_until(self, deadline: float) -> bool:
        return self.wait(deadline - time.monotonic())

    @abc.abstractmethod
    def new_state(self, link: LinkHandle) -> Any:
        """Per-connection state (a ``TcpState``, ``HttpState`` or ``WsState``)."""


Out = Callable[[bytes, float], None]


class TcpState:
    """Per-connection, per-direction work of a TCP toxic. Default: pass everything through."""

    def __init__(self, toxic: Toxic, link: LinkHandle) -> None:
        self.toxic = toxic
        self.link = link

    def start(self) -> None:
        """The toxic begins acting on this connection (timers start here)."""

    def stop(self) -> None:
        """The toxic was removed or the connection closed."""

    def process(self, data: bytes, t: float, out: Out) -> None:
        """Handle one chunk read at monotonic time ``t``; call ``out`` for what goes on."""
        out(data, t)

    def on_eof(self) -> None:
        """The source closed its side; called before the close is passed on."""


class TcpToxic(Toxic):
    kind: ClassVar[str] = "tcp"
    State: ClassVar[type[TcpState]] = TcpState

    def new_state(self, link: LinkHandle) -> TcpState:
        return self.State(self, link)


class TimerMixin:
    """A greenlet that runs ``fire`` after ``delay`` seconds unless the toxic is removed."""

    _timer: gevent.Greenlet | None = None

    def start_timer(self, toxic: Toxic, delay: float, fire: Callable[[], None]) -> None:
        def run() -> None:
            if not toxic.wait(delay):
                fire()

        self._timer = gevent.spawn(run)

    def stop_timer(self) -> None:
        if self._timer is not None and self._timer is not gevent.getcurrent():
            self._timer.kill(block=False)
        self._timer = None


# -- HTTP ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    """An answer the proxy gives itself instead of forwarding the request."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class HttpAction:
    delay: float = 0.0
    respond: HttpResponse | None = None


class PathAttributes(RateAttributes):
    paths_include: list[str] = []
    paths_exclude: list[str] = []

    def applies(self, path: str) -> bool:
        if self.paths_include and not any(path.startswith(p) for p in self.paths_include):
            return False
        return not any(path.startswith(p) for p in self.paths_exclude)


class HttpState:
    def __init__(self, toxic: Toxic, link: LinkHandle) -> None:
        self.toxic = toxic
        self.link = link

    def on_request(self, method: str, path: str) -> HttpAction | None:
        return None

    def stop(self) -> None:
        pass


class HttpToxic(Toxic):
    kind: ClassVar[str] = "http"
    extension: ClassVar[bool] = True
    State: ClassVar[type[HttpState]] = HttpState

    def new_state(self, link: LinkHandle) -> HttpState:
        return self.State(self, link)


# -- WebSocket -------------------------------------------------------------------------------


@dataclass
class WsMessage:
    """One server-to-client WebSocket message: its frames' raw bytes, opcode and payload."""

    opcode: int
    raw: bytes
    payload: bytes
    rsv: int
    t: float

    @property
    def control(self) -> bool:
        return self.opcode >= 0x8


MsgOut = Callable[[WsMessage], None]


class WsState:
    def __init__(self, toxic: Toxic, link: LinkHandle) -> None:
        self.toxic = toxic
        self.link = link

    def process(self, msg: WsMessage, out: MsgOut) -> None:
        out(msg)

    def tick(self, now: float, out: MsgOut) -> None:
        """Called when the stream is idle (about every 100 ms): release held messages."""

    def flush(self, out: MsgOut) -> None:
        """The toxic is being removed: release everything held."""

    def stop(self) -> None:
        pass


class WsToxic(Toxic):
    kind: ClassVar[str] = "ws"
    extension: ClassVar[bool] = True
    State: ClassVar[type[WsState]] = WsState

    def new_state(self, link: LinkHandle) -> WsState:
        return self.State(self, link)
