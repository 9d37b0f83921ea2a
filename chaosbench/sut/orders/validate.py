"""Validation of ``POST /api/orders`` bodies.

Malformed JSON (or not a JSON object) is ``BadRequest`` (400); a well-formed object with a missing
or invalid field is ``InvalidField`` (422). Both carry the field name for the JSON error body.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,31}$")
MAX_ID_LEN = 128


class BadRequest(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidField(BadRequest):
    pass


@dataclass(frozen=True)
class NewOrder:
    symbol: str
    side: str
    quantity: float
    price: float
    client_order_id: str


def _positive_number(obj: dict[str, object], name: str) -> float:
    value = obj.get(name)
    if value is None:
        raise InvalidField(f"{name} is required", name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidField(f"{name} must be a number", name)
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise InvalidField(f"{name} must be greater than 0", name)
    return number


def _text(obj: dict[str, object], name: str) -> str:
    value = obj.get(name)
    if value is None:
        raise InvalidField(f"{name} is required", name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(f"{name} must be a non-empty string", name)
    if len(value) > MAX_ID_LEN:
        raise InvalidField(f"{name} is longer than {MAX_ID_LEN} characters", name)
    return value


def parse_order(body: bytes) -> NewOrder:
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadRequest("the body must be a JSON object")
    symbol = _text(obj, "symbol")
    if not SYMBOL_RE.match(symbol):
        raise InvalidField(
            "symbol must be 1-32 upper-case letters, digits, '.', '_' or '-'", "symbol"
        )
    side = obj.get("side")
    if side not in ("buy", "sell"):
        raise InvalidField("side must be 'buy' or 'sell'", "side")
    quantity = _positive_number(obj, "quantity")
    price = _positive_number(obj, "price")
    client_order_id = _text(obj, "client_order_id")
    return NewOrder(symbol, str(side), quantity, price, client_order_id)


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key.strip() or len(key) > 255:
        raise InvalidField("Idempotency-Key must be 1-255 characters", "Idempotency-Key")
    return key
