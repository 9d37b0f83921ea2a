"""The HTTP API contract, against a real SUT subprocess with the real PostgreSQL and Redis."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from http.client import HTTPConnection
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT, Proc, free_port, wait_until
from tests.sut.conftest import SutInstance
from tests.sut.helpers import delete_prefix, drop_schema, http, http_full


def order(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "symbol": "BTCUSD",
        "side": "buy",
        "quantity": 2,
        "price": 101.5,
        "client_order_id": f"co-{uuid.uuid4().hex[:12]}",
    }
    body.update(over)
    return body


def hdrs(**extra: str) -> dict[str, str]:
    return {"X-Client-Id": f"api-{uuid.uuid4().hex[:8]}", **extra}


def rows(sut: SutInstance, where: str, arg: object) -> list[tuple[object, ...]]:
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        return conn.execute(
            "SELECT order_id, client_order_id, idempotency_key, created_at"
            f' FROM "{sut.schema}".orders WHERE {where} = %s',
            (arg,),
        ).fetchall()


def test_create_stores_before_answering_and_reads_through_cache(sut: SutInstance) -> None:
    body = order()
    status, headers, created = http_full("POST", sut.base_url + "/api/orders", body, hdrs())
    assert status == 201, created
    assert created["client_order_id"] == body["client_order_id"]
    assert created["symbol"] == "BTCUSD" and created["side"] == "buy"
    assert created["quantity"] == 2 and created["price"] == 101.5
    assert isinstance(created["server_time"], float)
    assert headers["location"] == f"/api/orders/{created['order_id']}"
    stored = rows(sut, "order_id", created["order_id"])
    assert len(stored) == 1 and stored[0][1] == body["client_order_id"]

    url = f"{sut.base_url}/api/orders/{created['order_id']}"
    s1, h1, first = http_full("GET", url, headers=hdrs())
    s2, _, second = http_full("GET", url, headers=hdrs())
    assert (s1, h1["x-cache"]) == (200, "miss")
    assert first == created
    # the cache fill is written in the background: poll until a read is served from Redis
    wait_until(lambda: http_full("GET", url, headers=hdrs())[1]["x-cache"] == "hit", timeout=5)
    assert s2 == 200 and second == created


def test_idempotent_retry_returns_first_answer_and_one_row(sut: SutInstance) -> None:
    key = f"idem-{uuid.uuid4().hex}"
    body = order()
    s1, h1, first = http_full(
        "POST", sut.base_url + "/api/orders", body, hdrs(**{"Idempotency-Key": key})
    )
    s2, h2, again = http_full(
        "POST", sut.base_url + "/api/orders", order(quantity=99), hdrs(**{"Idempotency-Key": key})
    )
    assert s1 == 201 and "idempotent-replayed" not in h1
    assert s2 == 201 and h2["idempotent-replayed"] == "true"
    assert again == first
    assert len(rows(sut, "idempotency_key", key)) == 1


def test_concurrent_retries_with_one_key_create_one_order(sut: SutInstance) -> None:
    key = f"race-{uuid.uuid4().hex}"
    body = order()
    answers: list[tuple[int, object]] = []

    def post() -> None:
        answers.append(
            http("POST", sut.base_url + "/api/orders", body, hdrs(**{"Idempotency-Key": key}))
        )

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 8
    assert {s for s, _ in answers} == {201}
    assert len({a["order_id"] for _, a in answers}) == 1  # type: ignore[index]
    assert len(rows(sut, "idempotency_key", key)) == 1


def raw_order(**fields: object) -> bytes:
    base: dict[str, object] = {
        "symbol": "BTCUSD",
        "side": "buy",
        "quantity": 1,
        "price": 1,
        "client_order_id": "x",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not OMIT}).encode()


OMIT = object()


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (b"\xff\xfe", 400, None),
        (raw_order(symbol=OMIT), 422, "symbol"),
        (raw_order(symbol="btc usd"), 422, "symbol"),
        (raw_order(side="hold"), 422, "side"),
        (raw_order(quantity=0), 422, "quantity"),
        (raw_order(quantity=True), 422, "quantity"),
        (raw_order(quantity="1"), 422, "quantity"),
        (raw_order(price=-3), 422, "price"),
        (raw_order(price=float("nan")), 422, "price"),
        (raw_order(client_order_id=OMIT), 422, "client_order_id"),
        (raw_order(client_order_id=""), 422, "client_order_id"),
    ],
)
def test_validation_errors_are_json(
    sut: SutInstance, raw: bytes, status: int, field: str | None
) -> None:
    got, body = http("POST", sut.base_url + "/api/orders", raw=raw, headers=hdrs())
    assert got == status, body
    assert isinstance(body, dict) and body["error"] and body["field"] == field


def test_bad_idempotency_key_is_422(sut: SutInstance) -> None:
    status, body = http(
        "POST", sut.base_url + "/api/orders", order(), hdrs(**{"Idempotency-Key": "k" * 300})
    )
    assert (status, body["field"]) == (422, "Idempotency-Key")


def test_unknown_order_symbol_path_and_method(sut: SutInstance) -> None:
    assert http("GET", f"{sut.base_url}/api/orders/{uuid.uuid4()}", headers=hdrs())[0] == 404
    status, body = http("GET", sut.base_url + "/api/quotes/NOPEUSD", headers=hdrs())
    assert (status, body["field"]) == (404, "symbol")
    assert http("GET", sut.base_url + "/nothing/here", headers=hdrs())[0] == 404
    assert http("DELETE", sut.base_url + "/api/orders", headers=hdrs())[0] == 405


def test_quotes_come_from_redis_and_move(sut: SutInstance) -> None:
    first = wait_until(
        lambda: (
            (q := http("GET", sut.base_url + "/api/quotes/ETHUSD", headers=hdrs()))[0] == 200
            and q[1]
        )
    )
    assert (
        isinstance(first, dict) and first["symbol"] == "ETHUSD" and 0 < first["bid"] < first["ask"]
    )
    wait_until(
        lambda: (
            http("GET", sut.base_url + "/api/quotes/ETHUSD", headers=hdrs())[1]["ts"] > first["ts"]
        ),
        timeout=5,
    )


def test_rate_limit_answers_429_with_retry_after(sut: SutInstance) -> None:
    conn = HTTPConnection("127.0.0.1", sut.port, timeout=10)
    client = f"rl-{uuid.uuid4().hex[:8]}"
    limited = None
    for _ in range(300):  # the limit is 30/s; a burst on one connection must cross it
        conn.request("GET", "/api/quotes/BTCUSD", headers={"X-Client-Id": client})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status == 429:
            limited = (resp.getheader("Retry-After"), data)
            break
    assert limited is not None, "no 429 within 300 requests"
    retry_after, data = limited
    assert retry_after is not None and 1 <= int(retry_after) <= 2
    assert b'"error"' in data
    # other clients are not limited, and this one recovers after the window
    assert http("GET", sut.base_url + "/api/quotes/BTCUSD", headers=hdrs())[0] == 200
    wait_until(
        lambda: (
            http("GET", sut.base_url + "/api/quotes/BTCUSD", headers={"X-Client-Id": client})[0]
            == 200
        ),
        timeout=5,
    )
    conn.close()


def test_keep_alive_serves_many_requests_on_one_connection(sut: SutInstance) -> None:
    conn = HTTPConnection("127.0.0.1", sut.port, timeout=10)
    conn.connect()
    sock = conn.sock
    client = f"ka-{uuid.uuid4().hex[:8]}"
    for i in range(10):
        conn.request(
            "POST",
            "/api/orders",
            body=json_bytes(order()),
            headers={"X-Client-Id": client, "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        assert resp.status == 201, resp.read()
        resp.read()
        assert conn.sock is sock, f"connection was not kept alive (request {i})"
    conn.close()


def json_bytes(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_health_ok_names_checks(sut: SutInstance) -> None:
    status, body = http("GET", sut.base_url + "/health")
    assert status == 200
    assert body["status"] == "ok" and body["down"] == []
    assert body["checks"] == {"postgres": "ok", "redis": "ok"}


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--port", "abc"], {}, "--port"),
        (["--quote-rate", "-1"], {}, "--quote-rate"),
        (["--bogus"], {}, "--bogus"),
        (["--pg-schema", "Bad-Name"], {}, "--pg-schema"),
        ([], {"SUT_PORT": "eighty"}, "SUT_PORT"),
        ([], {"SUT_REDIS_URL": "http://x"}, "--redis-url"),
    ],
)
def test_bad_options_one_line_exit_2(args: list[str], env: dict[str, str], needle: str) -> None:
    import os

    result = subprocess.run(
        [PYTHON, "-m", "chaosbench.sut", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sut: ") and needle in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_environment_variables_configure_the_sut(tmp_path: Path) -> None:
    """The main job configures the SUT through SUT_* variables only (no flags)."""
    tag = uuid.uuid4().hex[:10]
    schema, prefix, port = f"cbt_sut_env_{tag}", f"cbt_sut_env_{tag}:", free_port()
    env = {
        "SUT_PORT": str(port), "SUT_PG_DSN": PG_DSN, "SUT_PG_SCHEMA": schema,
        "SUT_REDIS_URL": REDIS_URL, "SUT_REDIS_PREFIX": prefix, "SUT_RATE_LIMIT": "0",
    }  # fmt: skip
    proc = Proc([PYTHON, "-m", "chaosbench.sut"], tmp_path / "sut-env.log", env)
    try:
        wait_until(lambda: http("GET", f"http://127.0.0.1:{port}/health")[0] == 200, timeout=30)
        status, created = http("POST", f"http://127.0.0.1:{port}/api/orders", order())
        assert status == 201
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            found = conn.execute(
                f'SELECT count(*) FROM "{schema}".orders WHERE order_id = %s',
                (created["order_id"],),
            ).fetchone()
        assert found == (1,)
    finally:
        assert proc.stop() == 0  # SIGTERM is a clean stop
        drop_schema(PG_DSN, schema)
        delete_prefix(REDIS_URL, prefix)
