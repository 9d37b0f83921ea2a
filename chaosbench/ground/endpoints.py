"""The effective target of a DSN or URL: where the client library would really connect.

A PostgreSQL DSN is resolved the way libpq resolves it, without connecting: a value given in
the DSN wins; else the value of the service (``service=`` in the DSN, else ``$PGSERVICE``) in
the first service file that defines it (``$PGSERVICEFILE`` or ``~/.pg_service.conf``, then
``$PGSYSCONFDIR/pg_service.conf``); else the environment (``PGHOST``, ``PGHOSTADDR``,
``PGPORT``); else libpq's compiled default (a Unix socket, port 5432). ``host``, ``hostaddr``
and ``port`` may be comma-separated lists (libpq tries each host in turn), and ``hostaddr``,
when present, is the address libpq connects to. psycopg's ``conninfo_to_dict`` applies none of
this and its own attempt splitter ignores services, hence this module.

A Redis URL is resolved with redis-py's own ``parse_url`` (which takes ``?host=`` from the
query string when the URL has no host). Unix sockets of either are ``local:<path>`` targets:
this machine.

A DSN or URL that the library would refuse raises ``ValueError`` (a one-line message, secrets
masked); callers add what it is (a fault's setting, a command-line option). Shared by the
chaos safety checks and the load users' reachability probes, so that both look where the client
will really connect.

Host names are checked by the allowlist with :func:`resolve_host`, a lookup bounded in time that
runs in a thread (a greenlet once gevent has patched ``threading`` and ``socket``).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from psycopg import ProgrammingError, pq
from psycopg.conninfo import conninfo_to_dict

from chaosbench.ground.redact import redact
from chaosbench.ground.text import one_line

#: How long a host name lookup may take at validation before the target is refused.
LOOKUP_TIMEOUT_S = 3.0
#: Where libpq looks for the system-wide service file when ``PGSYSCONFDIR`` is not set: its
#: compiled-in sysconfdir differs between builds, so every usual one is read.
SYSTEM_SERVICE_DIRS = (
    "/etc/postgresql-common",
    "/etc",
    "/usr/local/pgsql/etc",
    "/etc/sysconfig/pgsql",
)
_ENV = {"host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "service": "PGSERVICE"}


def _compiled_default(keyword: str) -> str | None:
    for opt in pq.Conninfo.get_defaults():
        if opt.keyword.decode() == keyword:
            return opt.compiled.decode() if opt.compiled is not None else None
    return None


def _parse_service_file(path: Path, service: str) -> dict[str, str] | None:
    """The ``[service]`` section of ``path`` as libpq reads it, None when it is not there."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if found is not None:
                break  # the next section: ours is complete
            if line.endswith("]") and line[1:-1] == service:
                found = {}
            continue
        if found is None:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path} line {number}: syntax error in service file")
        key = key.strip()
        if key == "service":
            raise ValueError(f"{path} line {number}: nested service specifications not supported")
        found.setdefault(key, value.strip())
    return found


def service_files() -> tuple[list[Path], list[Path]]:
    """The user's service file and the system ones libpq may read, in its order."""
    user = os.environ.get("PGSERVICEFILE")
    users = [Path(user)] if user else [Path.home() / ".pg_service.conf"]
    sysconf = os.environ.get("PGSYSCONFDIR")
    dirs = [sysconf] if sysconf else list(SYSTEM_SERVICE_DIRS)
    return users, [Path(d) / "pg_service.conf" for d in dirs]


def _service_values(service: str) -> list[dict[str, str]]:
    """The settings of ``service``: the user's file wins; without it, every system file that
    defines it (libpq reads one of them; which one depends on how it was built). libpq refuses a
    service that no file defines, and so does this."""
    users, systems = service_files()
    for path in users:
        found = _parse_service_file(path, service)
        if found is not None:
            return [found]
    defined = [found for path in systems if (found := _parse_service_file(path, service))]
    if not defined:
        raise ValueError(f'definition of service "{service}" not found')
    return defined


def _split(value: str | None) -> list[str]:
    return [] if value is None else [v.strip() for v in value.split(",")]


def _endpoints(values: dict[str, str | None]) -> list[str]:
    """host:port (or local:<socket dir>) of every attempt libpq would make with ``values``."""
    hosts, addrs, ports = (_split(values.get(k)) for k in ("host", "hostaddr", "port"))
    if hosts and addrs and len(hosts) != len(addrs):
        raise ValueError(f"could not match {len(hosts)} host names with {len(addrs)} hostaddr")
    n = max(len(hosts), len(addrs), 1)
    if len(ports) > 1 and len(ports) != n:
        raise ValueError(f"could not match {len(ports)} port numbers to {n} hosts")
    default_port = _compiled_default("port") or "5432"
    out: list[str] = []
    for i in range(n):
        port = (ports[i] if len(ports) > 1 else (ports[0] if ports else "")) or default_port
        host = addrs[i] if addrs and addrs[i] else (hosts[i] if hosts else "")
        if not host or host.startswith(("/", "@")):
            out.append(f"local:{host or 'default socket'}")  # a Unix socket: this machine
        elif ":" in host:
            out.append(f"[{host}]:{port}")
        else:
            out.append(f"{host}:{port}")
    return out


def pg_endpoints(dsn: str) -> list[str]:
    """Every target a connection with ``dsn`` could use, with the environment and service files
    applied as libpq applies them (see the module's docstring). ValueError when libpq would
    refuse the DSN."""
    try:
        given = {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except ProgrammingError as exc:
        raise ValueError(redact(f"dsn {dsn!r}: {one_line(exc)}")) from None
    service = given.get("service") or os.environ.get("PGSERVICE")
    out: list[str] = []
    for from_service in _service_values(service) if service else [{}]:
        values: dict[str, str | None] = {}
        for key, env in _ENV.items():
            if key in given:
                values[key] = given[key]
            elif key in from_service:
                values[key] = from_service[key]
            else:
                values[key] = os.environ.get(env) or _compiled_default(key)
        out.extend(e for e in _endpoints(values) if e not in out)
    return out


def redis_endpoint(url: str) -> str:
    """The target redis-py connects to for ``url`` (``local:<path>`` for a Unix socket)."""
    from redis.connection import parse_url

    try:
        kwargs = parse_url(url)
    except ValueError as exc:
        raise ValueError(redact(f"url {url!r}: {one_line(exc)}")) from None
    if "path" in kwargs:
        return f"local:{kwargs['path']}"
    host = str(kwargs.get("host") or "localhost")
    port = kwargs.get("port") or 6379
    if not isinstance(port, int):
        try:
            port = int(port)
        except ValueError:
            raise ValueError(redact(f"url {url!r}: port {port!r} is not a number")) from None
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_endpoint(endpoint: str) -> tuple[str, int] | None:
    """``("127.0.0.1", 5432)`` from ``127.0.0.1:5432`` (``[::1]:5432``); None for ``local:...``."""
    if endpoint.startswith("local:"):
        return None
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def resolve_host(host: str, timeout: float = LOOKUP_TIMEOUT_S) -> list[str]:
    """Every address ``host`` resolves to (sorted); OSError naming the host when the lookup
    fails or does not answer within ``timeout`` seconds (the lookup thread is left to finish on
    its own: it only holds a result nobody reads)."""
    result: list[str] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
            result.extend(sorted({str(info[4][0]) for info in infos}))
        except (OSError, UnicodeError) as exc:
            failure.append(exc)

    worker = threading.Thread(target=lookup, name=f"chaosbench-lookup-{host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise OSError(f"lookup of {host!r} did not answer within {timeout:g} s")
    if failure:
        raise OSError(f"{host!r} does not resolve ({one_line(failure[0])})")
    if not result:
        raise OSError(f"{host!r} resolves to no address")
    return result
