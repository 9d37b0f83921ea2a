"""redact / redact_data: every form of secret a DSN, URL, option or setting can carry."""

from __future__ import annotations

import json

import pytest

from chaosbench.ground.redact import MASK, is_secret_name, redact, redact_data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # URL form
        ("postgresql://chaos:s3cr3t@127.0.0.1:5432/x", "postgresql://chaos:***@127.0.0.1:5432/x"),
        ("redis://:s3cr3t@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("http://u:s3cr3t@127.0.0.1:8086", "http://u:***@127.0.0.1:8086"),
        ("postgresql://u:p@ss:w0rd@h/x", "postgresql://u:***@h/x"),  # an unquoted @ in it
        # IPv6 hosts and several hosts
        ("postgresql://u:s3cr3t@[::1]:5432/x", "postgresql://u:***@[::1]:5432/x"),
        ("postgresql://u:s3cr3t@h1:5432,h2:5433/x", "postgresql://u:***@h1:5432,h2:5433/x"),
        # key=value form (libpq), quoted values with escapes and spaces
        ("host=h user=u password=s3cr3t dbname=x", "host=h user=u password=*** dbname=x"),
        ("host=h password='s3 cr\\'3t' dbname=x", "host=h password='***' dbname=x"),
        ('host=h password = "s3cr3t" x=1', 'host=h password = "***" x=1'),
        ("sslpassword=s3cr3t PGPASSWORD=s3cr3t", "sslpassword=*** PGPASSWORD=***"),
        # query parameters named like secrets
        (
            "http://h:8086/write?token=s3cr3t&db=x&api_key=s3cr3t;secret=s3cr3t",
            "http://h:8086/write?token=***&db=x&api_key=***;secret=***",
        ),
        (
            "postgresql://h/x?password=s3cr3t&sslmode=require",
            "postgresql://h/x?password=***&sslmode=require",
        ),
        # mapping text: reprs, JSON, YAML lines
        ("{'dsn': 'x', 'password': 's3cr3t'}", "{'dsn': 'x', 'password': '***'}"),
        ('{"token": "s3cr3t", "n": 1}', '{"token": "***", "n": 1}'),
        ("dsn: x\ntoken: s3cr3t\n  - api_key: s3cr3t", "dsn: x\ntoken: ***\n  - api_key: ***"),
    ],
)
def test_redact_masks_every_form(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert "s3cr3t" not in redact(text) and "ss:w0rd" not in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgresql://[::1]:5432/test",
        "http://127.0.0.1:8089/?x=1",
        "host=127.0.0.1 port=5432 dbname=test",
        'password authentication failed for user "chaos"',
        "faults[0].settings.password: unknown key",
        "",
    ],
)
def test_redact_leaves_text_without_secrets_alone(text: str) -> None:
    assert redact(text) == text


def test_several_dsns_in_one_string() -> None:
    text = (
        "a postgresql://a:PW1@h1/x, then host=h2 password=PW2 and redis://:PW3@h3:6379/0 "
        "(dsn='postgresql://b:PW4@[fe80::1]:5432/y')"
    )
    out = redact(text)
    for secret in ("PW1", "PW2", "PW3", "PW4"):
        assert secret not in out
    assert out.count(MASK) == 4 and "h1/x" in out and "[fe80::1]:5432/y" in out


def test_redact_data_masks_nested_values_and_secret_keys() -> None:
    data = {
        "settings": {
            "dsn": "postgresql://chaos:PW1@127.0.0.1:1/x",
            "password": "PW2",
            "nested": [{"api_key": "PW3"}, ("host=h password=PW4", 3)],
            "empty_token": "",
        },
        "count": 3,
        "ok": True,
        "none": None,
    }
    out = redact_data(data)
    text = json.dumps(out)
    for secret in ("PW1", "PW2", "PW3", "PW4"):
        assert secret not in text
    assert out["settings"]["dsn"] == "postgresql://chaos:***@127.0.0.1:1/x"
    assert out["settings"]["password"] == MASK and out["settings"]["empty_token"] == ""
    assert out["settings"]["nested"][1] == ["host=h password=***", 3]
    assert out["count"] == 3 and out["ok"] is True and out["none"] is None
    assert data["settings"]["password"] == "PW2"  # the input is not changed


def test_secret_names() -> None:
    for name in ("password", "PGPASSWORD", "influx_token", "api-key", "client_secret"):
        assert is_secret_name(name), name
    for name in ("dsn", "url", "host", "user", "count"):
        assert not is_secret_name(name), name


@pytest.mark.parametrize(
    "text",
    [
        "password" * 25_000,  # one long word made of a secret name, never followed by =
        "a." * 100_000,  # a word boundary at every other character
        "x://y:" + "z" * 200_000,  # a URL that never reaches its @
        "password" + " " * 200_000 + "x",
    ],
)
def test_redact_does_not_backtrack_on_pathological_text(text: str) -> None:
    """200 KB of the texts that made the first patterns quadratic (they hung for minutes)."""
    assert redact(text) == text
