"""The default addresses of every server chaosbench talks to, in one place.

Every default here is a loopback address: PostgreSQL and Redis as a local install (or
``make up``) serves them, the fault proxy's API as Toxiproxy's, and the ports the main job
(``chaosbench run``) gives the reference system. Each user of a default has its own flag or
environment variable to change it; this module only says what it is when nobody does.

The reference system (``chaosbench.sut``) imports nothing of the harness and keeps the same
values in its own settings.
"""

from __future__ import annotations

from typing import Final

LOOPBACK: Final = "127.0.0.1"

#: PostgreSQL and Redis, as the reference system, the users and the faults reach them.
PG_PORT: Final = 5432
PG_DSN: Final = f"postgresql://postgres@{LOOPBACK}:{PG_PORT}/test"
REDIS_PORT: Final = 6379
REDIS_URL: Final = f"redis://{LOOPBACK}:{REDIS_PORT}/0"

#: The fault proxy's API (Toxiproxy's port), host:port and as a URL.
PROXY_API_PORT: Final = 8474
PROXY_API: Final = f"{LOOPBACK}:{PROXY_API_PORT}"
PROXY_URL: Final = f"http://{PROXY_API}"

#: The reference system's own port in the main job (behind the bundled default profile's routes).
SUT_PORT: Final = 8000
