"""PostgresUser: psycopg 3 on gevent-patched sockets, one connection and one cursor per user,
every statement reported by name (request_type "PG"), reconnect after loss, statement timeouts
from deadlines.

The connection waits on the gevent hub directly (:mod:`chaosbench.users.pgwait`), and psycopg
prepares a statement the first time it runs (``prepare_threshold = 0``): the statements of a
load test repeat. This module imports locust first, so that gevent has patched the sockets.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, ClassVar, Literal

import gevent
import gevent.lock
import locust  # noqa: F401  (gevent monkey-patching before psycopg is imported)
import psycopg
from psycopg import sql

from chaosbench.ground.endpoints import pg_endpoints, split_endpoint
from chaosbench.ground.errors import OptionError
from chaosbench.ground.state import RunState
from chaosbench.users.base import Backoff, LoadUser, OperationTimeout
from chaosbench.users.options import LoadOptions, mask_dsn
from chaosbench.users.pgwait import GeventConnection
from chaosbench.users.targets import Target

Fetch = Literal["none", "one", "all"]


class StatementFailed(Exception):
    """A statement inside a transaction failed (already reported); ends the transaction."""


def pg_targets(dsn: str) -> list[Target]:
    """Where libpq will really connect with ``dsn`` (the DSN, then ``PGHOST``/``PGHOSTADDR``/
    ``PGPORT`` and service files, as ``chaosbench.ground.endpoints`` applies them): its first
    host, which the probe at test start must reach; none for a Unix socket (this machine)."""
    try:
        endpoints = pg_endpoints(dsn)
    except ValueError as exc:
        raise OptionError(f"--pg-dsn: cannot parse {mask_dsn(dsn)!r}: {exc}") from None
    first = split_endpoint(endpoints[0]) if endpoints else None
    return [] if first is None else [Target("PostgreSQL", first[0], first[1], "--pg-dsn")]


class Transaction:
    """``with self.transaction() as tx: tx.execute(...)``: BEGIN with the first statement, COMMIT
    (reported as ``commit``) at the end; a failed statement rolls back and ends the block."""

    def __init__(self, user: PostgresUser, commit_name: str = "commit") -> None:
        self.user = user
        self.commit_name = commit_name
        self._begun = False
        self.failed = False

    def execute(
        self,
        name: str,
        query: str | sql.Composable,
        params: Sequence[Any] | None = None,
        fetch: Fetch = "none",
    ) -> Any:
        conn = self.user.connection()
        if conn is None:
            raise StatementFailed(name)
        prefix = None if self._begun else "BEGIN"
        self._begun = True
        ok, result = self.user._run(name, query, params, fetch, prefix=prefix)
        if not ok:
            raise StatementFailed(name)
        return result

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None and self._begun:
            ok, _ = self.user._run(self.commit_name, "COMMIT", None, "none")
            self.failed = not ok
            return False
        if isinstance(exc, StatementFailed):
            self.failed = True
            self.user._rollback()
            return True
        if exc is not None and self._begun:
            self.user._rollback()
        return False


class PostgresUser(LoadUser):
    """Abstract PostgreSQL user.

    Class attributes:
      pg_dsn: DSN (default ``--pg-dsn``); schema: own schema (default ``--pg-schema``); the
        connection's search_path is that schema, so SQL uses unqualified table names.
      application_name: shows in pg_stat_activity (faults and tests filter by it).
      connect_timeout: seconds; statement_timeout_factor: statement_timeout = factor x the
        largest PG deadline (server side); the client gives up 2 s later (then reconnects).
      schema_sql: statements run once per process to create the user's tables (IF NOT EXISTS).
      prepare_threshold: psycopg's (0: prepare every statement on its first run; None: never,
        e.g. behind a transaction-pooling PgBouncer).
    """

    abstract = True
    kind = "PG"
    pg_dsn: str | None = None
    schema: str | None = None
    application_name: str = "chaosbench-load"
    connect_timeout: float = 5.0
    statement_timeout_factor: float = 10.0
    schema_sql: ClassVar[Sequence[str]] = ()
    backoff_base: float = 0.1
    backoff_cap: float = 2.0
    prepare_threshold: int | None = 0

    _schema_lock: ClassVar[gevent.lock.Semaphore] = gevent.lock.Semaphore()
    _schema_ready: ClassVar[set[tuple[str, str, str]]] = set()

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.switches = RunState.of(environment).switches  # pg_slow_queries sets them
        self.conn: psycopg.Connection[Any] | None = None
        self.cursor: psycopg.Cursor[Any] | None = None
        self.statement_timeout_ms = int(
            self.options.deadlines.largest("PG") * self.statement_timeout_factor
        )
        self._client_timeout = self.statement_timeout_ms / 1000.0 + 2.0
        self._backoff = Backoff(self.backoff_base, self.backoff_cap)
        self._failed_connects = 0

    @classmethod
    def dsn_for(cls, opts: LoadOptions) -> str:
        return cls.pg_dsn or opts.pg_dsn

    @classmethod
    def targets(cls, opts: LoadOptions) -> list[Target]:
        return pg_targets(cls.dsn_for(opts))

    @property
    def schema_name(self) -> str:
        return self.schema or self.options.pg_schema

    # -- connection ----------------------------------------------------------------------------
    def connection(self) -> psycopg.Connection[Any] | None:
        """The open connection, connecting (reported as ``connect``) when there is none."""
        if self.conn is not None and not self.conn.closed:
            return self.conn
        if self._failed_connects:
            gevent.sleep(self._backoff.next_delay())
        options = (
            f"-c statement_timeout={self.statement_timeout_ms} "
            f"-c search_path={self.schema_name},public"
        )
        with self.measure("PG", "connect", timeout=self.connect_timeout + 1.0, paced=False) as m:
            conn = GeventConnection.connect(
                self.dsn_for(self.options),
                autocommit=True,
                connect_timeout=max(1, int(self.connect_timeout)),
                application_name=self.application_name,
                options=options,
            )
            conn.prepare_threshold = self.prepare_threshold
            self._ensure_schema(conn)
            self.conn = conn
            self.cursor = conn.cursor()
        if not m.ok:
            self._failed_connects += 1
            return None
        self._failed_connects = 0
        self._backoff.reset()
        return self.conn

    def _ensure_schema(self, conn: psycopg.Connection[Any]) -> None:
        key = (self.dsn_for(self.options), self.schema_name, type(self).__qualname__)
        if key in self._schema_ready:
            return
        if not self.schema_sql:
            # no tables of its own: nothing is created (no CREATE rights needed, no surprise
            # schema in the owner's database); the search_path still names the schema
            self._schema_ready.add(key)
            return
        with self._schema_lock:
            if key in self._schema_ready:
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema_name,))
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(self.schema_name)
                    )
                )
                for stmt in self.schema_sql:
                    conn.execute(stmt)
            self._schema_ready.add(key)

    def drop_connection(self) -> None:
        conn, self.conn, self.cursor = self.conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def on_stop(self) -> None:
        self.drop_connection()

    # -- statements ----------------------------------------------------------------------------
    def execute(
        self,
        name: str,
        query: str | sql.Composable,
        params: Sequence[Any] | None = None,
        fetch: Fetch = "none",
    ) -> Any:
        """Run one statement in autocommit, reported as ``name``. Returns the fetched rows (one
        tuple for ``fetch="one"``, a list for ``"all"``, the rowcount for ``"none"``), or None
        when it failed (reported)."""
        conn = self.conn
        if (conn is None or conn.closed) and self.connection() is None:
            return None
        ok, result = self._run(name, query, params, fetch)
        return result if ok else None

    def transaction(self, commit_name: str = "commit") -> Transaction:
        return Transaction(self, commit_name)

    def _run(
        self,
        name: str,
        query: str | sql.Composable,
        params: Sequence[Any] | None,
        fetch: Fetch,
        prefix: str | None = None,
    ) -> tuple[bool, Any]:
        cur = self.cursor
        if cur is None:
            return False, None
        result: Any = None
        with self.measure("PG", name, timeout=self._client_timeout) as m:
            if prefix:
                cur.execute(prefix)
            # the pg_slow_queries fault, when active (no call while its share is 0)
            if self.switches.pg_slow_share > 0.0 and (delay := self.switches.pg_slow_delay()):
                cur.execute("SELECT pg_sleep(%s)", (delay,))
            cur.execute(query, params)  # type: ignore[arg-type]
            if fetch == "one":
                result = cur.fetchone()
            elif fetch == "all":
                result = cur.fetchall()
            else:
                result = cur.rowcount
            m.response_length = max(cur.rowcount, 0)
        if not m.ok and self._connection_broken(m.exception):
            self.drop_connection()
        return m.ok, result

    def _connection_broken(self, exc: BaseException | None) -> bool:
        if isinstance(exc, OperationTimeout | psycopg.OperationalError | psycopg.InterfaceError):
            return (
                not isinstance(exc, psycopg.errors.QueryCanceled)
                or self.conn is None
                or self.conn.broken
            )
        return self.conn is None or self.conn.closed or self.conn.broken

    def _rollback(self) -> None:
        conn = self.conn
        if conn is None or conn.closed:
            return
        try:
            with gevent.Timeout(self.connect_timeout, OperationTimeout("rollback")):
                conn.execute("ROLLBACK")
        except Exception:
            self.drop_connection()
