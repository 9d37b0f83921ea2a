"""integrity_canary: corrupt or delete stored orders on purpose (the reconcile mismatch).

Proves that the integrity check can fail: the fault changes ``count`` orders (scaled by
intensity) in the system under test's orders table, ``<schema>.<table>``, preferring orders the
harness saw acknowledged (the run's integrity counters, ``ctx.state``: on a master those the
workers reported), else the most recent ones. ``action: corrupt`` overwrites ``column``
(``client_order_id`` by default) with a ``canary-...`` value; ``action: delete`` deletes the row
(a lost order). Each changed order id is added to the run's ``counters.canary_orders`` (what the
end-of-run check must find) and listed in the journal details with what was done.

Revert does nothing by default: the damage is meant to be found at the end of the run. With
``restore: true`` the original rows are put back at revert.

Intensity: scales ``count`` (rounded up; at least one).
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import ConfigDict, Field

from chaosbench.chaos.faults._common import pg_close, pg_connect, pg_targets, scaled
from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.ground import defaults
from chaosbench.ground.errors import FaultError
from chaosbench.ground.text import one_line

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"


class CanarySettings(FaultSettings):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    dsn: str = defaults.PG_DSN
    schema_: str = Field(default="sut", alias="schema", pattern=IDENT)
    table: str = Field(default="orders", pattern=IDENT)
    id_column: str = Field(default="order_id", pattern=IDENT)
    column: str = Field(default="client_order_id", pattern=IDENT)
    action: Literal["corrupt", "delete"] = "corrupt"
    count: int = Field(default=1, ge=1, le=1000)
    restore: bool = False


@register
class IntegrityCanary(Fault[CanarySettings]):
    type_name = "integrity_canary"
    Settings = CanarySettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.changed: dict[str, str] = {}  # order id -> what was done
        self._rows: list[dict[str, Any]] = []

    def targets(self) -> list[str]:
        return pg_targets(self.settings.dsn)

    def _table(self) -> sql.Composable:
        return sql.Identifier(self.settings.schema_, self.settings.table)

    def _pick(self, conn: psycopg.Connection, n: int) -> list[dict[str, Any]]:
        s = self.settings
        idc = sql.Identifier(s.id_column)
        rows: list[dict[str, Any]] = []
        with conn.cursor(row_factory=dict_row) as cur:
            acked = list(self.ctx.state.all_counters().acked_orders)[-5000:]
            if acked:
                cur.execute(
                    sql.SQL("SELECT * FROM {} WHERE {}::text = ANY(%s) LIMIT 1000").format(
                        self._table(), idc
                    ),
                    (acked,),
                )
                rows = cur.fetchall()
            if not rows:
                cur.execute(
                    sql.SQL("SELECT * FROM {} ORDER BY {} DESC LIMIT 1000").format(
                        self._table(), idc
                    )
                )
                rows = cur.fetchall()
        done = self.ctx.state.counters.canary_orders
        rows = [r for r in rows if str(r[s.id_column]) not in done]
        return self.ctx.rng.sample(rows, min(n, len(rows)))

    def inject(self) -> None:
        s = self.settings
        conn = pg_connect(s.dsn)
        try:
            rows = self._pick(conn, scaled(s.count, self.intensity))
            if not rows:
                raise FaultError(f"{self.name}: no stored order in {s.schema_}.{s.table}")
            idc, col = sql.Identifier(s.id_column), sql.Identifier(s.column)
            for row in rows:
                oid = row[s.id_column]
                if s.action == "delete":
                    q = sql.SQL("DELETE FROM {} WHERE {} = %s").format(self._table(), idc)
                    conn.execute(q, (oid,))
                    what = "deleted"
                else:
                    value = f"canary-{secrets.token_hex(6)}"
                    q = sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(
                        self._table(), col, idc
                    )
                    conn.execute(q, (value, oid))
                    what = f"{s.column}: {row[s.column]!s} -> {value}"
                self._rows.append(row)
                self.changed[str(oid)] = what
                self.ctx.state.counters.canary_applied(str(oid), s.action)
        except psycopg.Error as exc:
            raise FaultError(f"{self.name}: {s.schema_}.{s.table}: {one_line(exc)}") from None
        finally:
            pg_close(conn)

    def revert(self) -> None:
        if not self.settings.restore or not self._rows:
            return
        s = self.settings
        conn = pg_connect(s.dsn)
        try:
            idc, col = sql.Identifier(s.id_column), sql.Identifier(s.column)
            for row in self._rows:
                if s.action == "delete":
                    cols = list(row)
                    q = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
                        self._table(),
                        sql.SQL(", ").join(sql.Identifier(c) for c in cols),
                        sql.SQL(", ").join(sql.Placeholder() for _ in cols),
                    )
                    conn.execute(q, [row[c] for c in cols])
                else:
                    q = sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(
                        self._table(), col, idc
                    )
                    conn.execute(q, (row[s.column], row[s.id_column]))
                oid = str(row[s.id_column])
                self.ctx.state.counters.canary_orders.discard(oid)
                self.ctx.state.counters.canary_actions.pop(oid, None)
            self._rows.clear()
        except psycopg.Error as exc:
            raise FaultError(f"{self.name}: restore: {one_line(exc)}") from None
        finally:
            pg_close(conn)

    def describe(self) -> dict[str, Any]:
        return {
            "settings": self.settings.model_dump(mode="json", by_alias=True),
            "changed": dict(self.changed),
        }
