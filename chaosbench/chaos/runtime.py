"""What a run needs besides the profile: the fault proxy (embedded or remote), its routes, and
the FaultContext handed to every fault."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from chaosbench.chaos.faults.base import FaultContext
from chaosbench.chaos.profile.model import Profile
from chaosbench.ground import defaults
from chaosbench.ground.errors import AllowlistError, OptionError, ProxyError
from chaosbench.ground.state import RunState

log = logging.getLogger("chaosbench.chaos")

DEFAULT_PROXY_API = defaults.PROXY_API


def needs_proxy(profile: Profile) -> bool:
    """True when the profile has routes or faults that act through the fault proxy."""
    from chaosbench.chaos.faults._toxic import RouteFault

    return bool(profile.routes) or any(issubclass(f.cls, RouteFault) for f in profile.faults)


def api_url(addr: str) -> str:
    return addr if "://" in addr else f"http://{addr}"


@dataclass
class ProxyHandle:
    """The fault proxy of a run: its API URL, and the embedded proxy when we started it."""

    url: str
    embedded: Any = None  # chaos.proxy EmbeddedProxy, when started in this process

    def stop(self) -> None:
        if self.embedded is not None:
            try:
                self.embedded.stop()
            except Exception:
                log.exception("stopping the embedded fault proxy failed")
            self.embedded = None


def start_proxy(profile: Profile, mode: str, api: str) -> ProxyHandle:
    """Start the embedded proxy (``mode == "embedded"``) or check a running one at URL ``mode``,
    then create the profile's routes on it. ProxyError/AllowlistError/OptionError on failure."""
    from chaosbench.proxy.client import ProxySpec, ToxiproxyClient

    if mode == "embedded":
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
