"""translate / reason / error_line: third-party errors become one line, once; ours pass."""

from __future__ import annotations

import socket

import psycopg
import pytest
import redis

from chaosbench.ground.errors import FaultError, OptionError, TargetUnreachable
from chaosbench.ground.translate import REFUSED, error_line, reason, translate
from tests.conftest import free_port


def test_ours_pass_through_unchanged() -> None:
    err = FaultError("PostgreSQL 127.0.0.1:1: connection refused")
    assert translate(err, "elsewhere", OptionError) is err
    assert error_line(err, "elsewhere") == "PostgreSQL 127.0.0.1:1: connection refused"


def test_psycopg_refusal_is_one_short_line_without_the_password() -> None:
    port = free_port()
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(f"postgresql://chaos:s3cr3t-pw@127.0.0.1:{port}/x", connect_timeout=2)
    out = translate(err.value, f"PostgreSQL 127.0.0.1:{port}", TargetUnreachable)
    assert isinstance(out, TargetUnreachable)
    assert str(out) == f"PostgreSQL 127.0.0.1:{port}: connection refused"


def test_psycopg_server_error_loses_the_libpq_boilerplate() -> None:
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/no_such_db_e", connect_timeout=5)
    assert reason(err.value) == 'database "no_such_db_e" does not exist'


def test_redis_and_socket_errors() -> None:
    port = free_port()
    with pytest.raises(redis.ConnectionError) as rerr:
        redis.Redis(port=port, socket_connect_timeout=2).ping()
    assert reason(rerr.value) == REFUSED
    with pytest.raises(OSError) as oerr:
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert reason(oerr.value) == REFUSED
    assert reason(socket.gaierror(-2, "Name or service not known")) == "name does not resolve"
    assert reason(TimeoutError()) == "no answer (timed out)"
    assert reason(FileNotFoundError(2, "No such file or directory", "/x")) == (
        "no such file or directory (/x)"
    )


def test_error_line_redacts_and_bounds() -> None:
    line = error_line(ValueError("bad dsn postgresql://u:s3cr3t@h/x " + "y" * 10_000), "where")
    assert line.startswith("where: bad dsn postgresql://u:***@h/x ") and len(line) <= 300
    assert error_line(KeyError("k")) == "KeyError: 'k'"
