"""The embedded proxy's lifecycle: ``EmbeddedProxy(api_addr).start()`` ... ``.stop()``.

In a gevent-patched process (Locust) the API server and every proxy run as greenlets of the
current hub. In a plain process (tests, scripts) they run in a thread of their own with its own
gevent hub, so that blocking code in other threads never stalls the proxy.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import gevent
import gevent.event
import gevent.monkey
import gevent.pywsgi

from chaosbench.ground import defaults
from chaosbench.ground.errors import ProxyError
from chaosbench.proxy.addr import is_loopback, join_hostport, split_hostport
from chaosbench.proxy.api import ApiApp
from chaosbench.proxy.client import ProxySpec, ToxiproxyClient
from chaosbench.proxy.collection import ProxyCollection
from chaosbench.proxy.errors import ApiError
from chaosbench.proxy.proxy import Proxy

log = logging.getLogger("chaosbench.proxy")

DEFAULT_API = defaults.PROXY_API


class EmbeddedProxy:
    """A Toxiproxy-compatible proxy server in this process.

    ``api_addr``: where the HTTP API listens (loopback; port 0 picks a free port, see ``url``).
    ``threaded``: run in an own thread and hub (default: only when sockets are not patched).
    """

    def __init__(self, api_addr: str = DEFAULT_API, threaded: bool | None = None) -> None:
        try:
            host, port = split_hostport(api_addr, "API")
        except ApiError as exc:
            raise ProxyError(f"fault proxy API: {exc.message}") from None
        if not is_loopback(host):
            raise ProxyError(
                f"fault proxy API: {api_addr!r} is not a loopback address: "
                "the embedded proxy is a loopback tool"
            )
        self.api_host, self.api_port = host, port
        self.threaded = (
            not gevent.monkey.is_module_patched("socket") if threaded is None else threaded
        )
        self.collection = ProxyCollection()
        self._wsgi: gevent.pywsgi.WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._hub: Any = None
        self._stop_ev: gevent.event.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.running = False

    @property
    def url(self) -> str:
        return f"http://{join_hostport(self.api_host, self.api_port)}"

    def client(self, timeout: float = 5.0) -> ToxiproxyClient:
        return ToxiproxyClient(self.url, timeout)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, routes: list[ProxySpec] | None = None) -> EmbeddedProxy:
        """Start the API (and the given routes); returns self. Raises ProxyError."""
        if self.running:
            return self
        if self.threaded:
            self._thread = threading.Thread(
                target=self._thread_main, name="chaosbench-proxy", daemon=True
            )
            self._thread.start()
            self._ready.wait(30)
            if self._error is not None:
                raise self._error
        else:
            self._start_in_hub()
        self.running = True
        if routes:
            if self.threaded:
                self.client().populate(routes)
            else:  # same hub: a blocking client call here would wait on ourselves
                try:
                    self.collection.populate([r.to_json() for r in routes])
                except ApiError as exc:
                    names = ", ".join(r.name for r in routes)
                    raise ProxyError(f"populate [{names}]: {exc.message}") from None
        return self

    def stop(self) -> None:
        """Close the API, every listener and every connection."""
        if not self.running:
            return
        self.running = False
        if self.threaded:
            if self._hub is not None and self._stop_ev is not None:
                self._hub.loop.run_callback_threadsafe(self._stop_ev.set)
            if self._thread is not None:
                self._thread.join(10)
        elif gevent.getcurrent() is gevent.get_hub():
            gevent.spawn(self._stop_in_hub)  # called from a hub callback: must not wait here
        else:
            self._stop_in_hub()

    def __enter__(self) -> EmbeddedProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(
        self,
        stop_signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
        until: gevent.event.Event | None = None,
    ) -> None:
        """For the command line (main thread, own hub): serve until one of ``stop_signals``
        (or ``until`` is set), then stop."""
        done = until if until is not None else gevent.event.Event()
        handlers = [gevent.signal_handler(sig, done.set) for sig in stop_signals]
        try:
            done.wait()
        finally:
            for h in handlers:
                h.cancel()
            self.stop()

    # -- in the proxy's hub ------------------------------------------------------------------

    def _thread_main(self) -> None:
        self._hub = gevent.get_hub()
        self._stop_ev = gevent.event.Event()
        try:
            self._start_in_hub()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            self._hub.destroy(destroy_loop=True)
            self._hub = None
            return
        self._ready.set()
        self._stop_ev.wait()
        self._stop_in_hub()
        gevent.sleep(0.01)  # let the killed connection greenlets unwind
        self._hub.destroy(destroy_loop=True)
        self._hub = None

    def _start_in_hub(self) -> None:
        wsgi = gevent.pywsgi.WSGIServer(
            (self.api_host, self.api_port), ApiApp(self.collection), log=None, error_log=None
        )
        try:
            wsgi.start()
        except OSError as exc:
            raise ProxyError(
                f"fault proxy API cannot listen on {self.api_host}:{self.api_port}: "
                f"{exc.strerror or exc}"
            ) from None
        self.api_port = wsgi.server_port
        self._wsgi = wsgi
        log.info("embedded fault proxy API on %s", self.url)

    def _stop_in_hub(self) -> None:
        self.collection.close()
        if self._wsgi is not None:
            self._wsgi.stop(timeout=1)
            self._wsgi = None

    # -- direct access (same hub only) -------------------------------------------------------

    def proxies(self) -> dict[str, Proxy]:
        return dict(self.collection.proxies)
