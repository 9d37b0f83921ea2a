"""``ToxiproxyClient.version()`` against both answers a real Toxiproxy gives: JSON since 2.7,
text before (a tiny HTTP server on loopback plays the real one, without the embedded header)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chaosbench.proxy import ToxiproxyClient


def serve_version(body: bytes, ctype: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/version" else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.mark.parametrize(
    ("body", "ctype", "version"),
    [
        (b'{"version": "2.12.0"}\n', "application/json;charset=utf-8", "2.12.0"),  # >= 2.7
        (b"2.5.0\n", "text/plain", "2.5.0"),
    ],
)
def test_version_of_a_real_toxiproxy(body: bytes, ctype: str, version: str) -> None:
    srv = serve_version(body, ctype)
    try:
        client = ToxiproxyClient(f"127.0.0.1:{srv.server_address[1]}")
        assert client.version() == version
        assert client.is_embedded() is False
    finally:
        srv.shutdown()
        srv.server_close()
