"""What a run needs besides the profile: the fault proxy, its routes, and the FaultContext handed
to every fault.

The fault proxy (``--chaos-proxy``) is one of:

- ``process`` (the default): ``python -m chaosbench.proxy`` as a child of the harness
  (``chaosbench.proxy.child``), on its own core: out of the load users' event loop and GIL. The
  harness waits until its API answers, creates the routes, watches it (its death mid-run makes
  the run unjudgeable) and stops it on every exit path; it cannot outlive the harness (stdin pipe
  and ``PR_SET_PDEATHSIG``), so its toxics are not ledger entries;
- ``embedded``: the same proxy in the harness's own process (greenlets of its hub);
- a URL: a running Toxiproxy-compatible API (its toxics outlive the harness: ledger entries).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaosbench.chaos.faults.base import FaultContext
from chaosbench.chaos.profile.model import Profile
from chaosbench.ground import defaults
from chaosbench.ground.errors import AllowlistError, OptionError, ProxyError
from chaosbench.ground.state import RunState

log = logging.getLogger("chaosbench.chaos")

DEFAULT_PROXY_API = defaults.PROXY_API
PROCESS, EMBEDDED = "process", "embedded"  # --chaos-proxy's own modes (else: a URL)
DEFAULT_PROXY_MODE = PROCESS


def needs_proxy(profile: Profile) -> bool:
    """True when the profile has routes or faults that act through the fault proxy."""
    from chaosbench.chaos.faults._toxic import RouteFault

    return bool(profile.routes) or any(issubclass(f.cls, RouteFault) for f in profile.faults)


def api_url(addr: str) -> str:
    return addr if "://" in addr else f"http://{addr}"


@dataclass
class ProxyHandle:
    """The fault proxy of a run: its API URL, and the proxy when we started it (embedded in this
    process, or our child process)."""

    url: str
    embedded: Any = None  # chaos.proxy EmbeddedProxy, when started in this process
    child: Any = None  # chaos.proxy.child ProxyProcess, when started as our child
    #: one line when the child died while not stopped (the run cannot be judged)
    death: str | None = None

    @property
    def outlives_harness(self) -> bool:
        """Its toxics outlive this process (an external proxy): faults keep ledger entries.
        Our child cannot outlive us (pipe EOF, PR_SET_PDEATHSIG)."""
        return self.embedded is None and self.child is None

    def stop(self) -> None:
        if self.embedded is not None:
            try:
                self.embedded.stop()
            except Exception:
                log.exception("stopping the embedded fault proxy failed")
            self.embedded = None
        if self.child is not None:
            self.child.stop()  # never raises
            self.child = None


def start_proxy(
    profile: Profile,
    mode: str,
    api: str,
    on_death: Callable[[str], None] | None = None,
) -> ProxyHandle:
    """Start the proxy as our child (``mode == "process"``) or in this process (``"embedded"``),
    or check a running one at URL ``mode``, then create the profile's routes on it.
    ``on_death(line)``: called once if the child dies while not stopped (from a greenlet).
    ProxyError/AllowlistError/OptionError on failure (nothing left running)."""
    from chaosbench.proxy.client import ProxySpec, ToxiproxyClient

    if mode == PROCESS:
        if not profile.allowlist.allows(api):
            raise AllowlistError(f"--chaos-proxy-api: {api!r} is not on the profile's allowlist")
        from chaosbench.proxy.child import ProxyProcess

        child = ProxyProcess(api).start()
        handle = ProxyHandle(child.url, child=child)
    elif mode == EMBEDDED:
        host = api.rsplit(":", 1)[0].strip("[]")
        if not profile.allowlist.allows(api):
            raise AllowlistError(f"--chaos-proxy-api: {api!r} is not on the profile's allowlist")
        try:
            from chaosbench.proxy import EmbeddedProxy
        except ImportError as exc:
            raise ProxyError(f"the embedded fault proxy is not available ({exc})") from None
        handle = ProxyHandle(api_url(api))
        try:
            handle.embedded = EmbeddedProxy(api)
            handle.embedded.start()
        except OSError as exc:
            raise ProxyError(f"--chaos-proxy-api: cannot listen on {api}: {exc}") from None
        log.info("embedded fault proxy on %s (%s)", api, host)
    else:
        url = api_url(mode)
        if not profile.allowlist.allows(url):
            raise AllowlistError(f"--chaos-proxy: {mode!r} is not on the profile's allowlist")
        handle = ProxyHandle(url)
    client = ToxiproxyClient(handle.url)
    try:
        client.version()
        if profile.routes:
            specs = [
                ProxySpec(name, r.listen, r.upstream, True, r.protocol)
                for name, r in profile.routes.items()
            ]
            client.populate(specs)
    except (ProxyError, OptionError):
        handle.stop()
        raise
    if handle.child is not None:

        def died(line: str) -> None:
            handle.death = line
            if on_death is not None:
                on_death(line)

        handle.child.watch(died)
    return handle


def make_context(
    profile: Profile,
    proxy_url: str,
    ledger: Any,
    state: RunState,
    run_id: str = "",
    *,
    proxy_external: bool = True,
) -> FaultContext:
    """The context of a run's faults; ``state`` is the run's shared state; ``proxy_external``:
    the proxy runs in another process (its toxics outlive this one: ledger entries)."""
    return FaultContext(
        proxy_url=proxy_url,
        routes=profile.route_table(),
        rng=random.Random(f"chaosbench-{profile.seed}"),
        ledger=ledger,
        run_id=run_id,
        state=state,
        proxy_external=proxy_external,
    )


def reset_proxy(url: str) -> str:
    """Remove every toxic and bring every route up on the proxy at ``url``; one line result."""
    from chaosbench.proxy.client import ToxiproxyClient

    ToxiproxyClient(url, timeout=2.0).reset()
    return f"fault proxy {url}: reset (every toxic removed, every route up)"
