"""End of run: acknowledged orders against the system under test's PostgreSQL table.

lost       = acknowledged order ids with no row in ``<schema>.orders``, or whose row no longer
             carries the acknowledged client order id (the acknowledged order is not stored)
duplicated = client order ids (of acknowledged orders) with more than one row

Orders the integrity canary damaged on purpose (the counters' ``canary_orders``) are not counted as
lost or duplicated: ``canary_injected`` is how many there are, ``canary_found`` how many of them
the check saw as damaged. A check that finds fewer than were injected is blind.

psycopg 3 detects gevent's monkey-patching and waits cooperatively; the connection and the
queries are bounded by ``connect_timeout`` and ``statement_timeout``. When PostgreSQL cannot be
reached the result says ``checked=False`` with the reason, and the gate reports "cannot measure".
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from chaosbench.analysis.model import Integrity
from chaosbench.ground.integrity import IntegrityCounters
from chaosbench.ground.redact import redact


@dataclass
class OrderCheck:
    checked: bool
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    lost_ids: list[str] | None = None
    damaged_ids: set[str] | None = None  # lost, changed or duplicated (all of them)
    reason: str | None = None


def check_orders(
    acked: dict[str, str], dsn: str, schema: str, timeout_s: float = 10.0
) -> OrderCheck:
    """Compare acknowledged orders (order id -> client order id) with the stored ones."""
    if not acked:
        return OrderCheck(checked=True)
    ids = list(acked)
    client_ids = list(set(acked.values()))
    table = sql.Identifier(schema, "orders")
    try:
        with psycopg.connect(
            dsn,
            connect_timeout=max(1, int(timeout_s)),
            application_name="chaosbench-integrity",
            options=f"-c statement_timeout={int(timeout_s * 1000)}",
            autocommit=True,
        ) as conn:
            found = conn.execute(
                sql.SQL("SELECT order_id, client_order_id FROM {} WHERE order_id = ANY(%s)").format(
                    table
                ),
                [ids],
            ).fetchall()
            dups = conn.execute(
                sql.SQL(
                    "SELECT client_order_id, array_agg(order_id::text) FROM {} "
                    "WHERE client_order_id = ANY(%s) GROUP BY client_order_id HAVING count(*) > 1"
                ).format(table),
                [client_ids],
            ).fetchall()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return OrderCheck(checked=False, reason=f"{redact(dsn)}: {reason}")
    intact = {str(r[0]) for r in found if str(r[1]) == acked.get(str(r[0]))}
    lost_ids = sorted(set(ids) - intact)
    damaged = set(lost_ids)
    for _client_id, order_ids in dups:
        damaged.update(str(o) for o in order_ids)
    return OrderCheck(
        checked=True,
        stored=len(intact),
        lost=len(lost_ids),
        duplicated=len(dups),
        lost_ids=lost_ids,
        damaged_ids=damaged,
    )


def build_integrity(
    counters: IntegrityCounters,
    dsn: str | None,
    schema: str,
    timeout_s: float = 10.0,
) -> Integrity:
    """The run's Integrity: stream counters, the order check, and the integrity canary."""
    integ = Integrity(
        orders_acknowledged=len(counters.acked_orders),
        ws_messages=counters.ws_messages,
        ws_gaps=counters.ws_gaps,
        ws_duplicates=counters.ws_duplicates,
        ws_reorders=counters.ws_reorders,
        ws_resumes=counters.ws_resumes,
        canary_injected=len(counters.canary_orders),
    )
    canary = set(counters.canary_orders)
    if dsn is None:
        integ.extra["order_check"] = "not configured"
        return integ
    res = check_orders(dict(counters.acked_orders), dsn, schema, timeout_s)
    integ.checked = res.checked
    if not res.checked:
        integ.extra["order_check"] = f"not checked: {res.reason}"
        return integ
    lost = [o for o in res.lost_ids or [] if o not in canary]
    integ.orders_stored = res.stored
    integ.orders_lost = len(lost)
    integ.orders_duplicated = res.duplicated
    integ.canary_found = len(canary & (res.damaged_ids or set()))
    if lost:
        integ.extra["lost_order_ids"] = lost[:100]
    if canary:
        integ.extra["canary_actions"] = dict(counters.canary_actions)
    return integ
