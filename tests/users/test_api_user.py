"""ApiUser against the reference system."""

from __future__ import annotations

from tests.users.conftest import Sut, run_script


def test_idempotent_placement_names_contexts_and_rejections(sut: Sut) -> None:
    r = run_script("api_orders", sut.url)
    assert r["first"][0] == 201 and r["first"][1]
    assert r["again"] == r["first"], "a retry with the same key gets the first answer"
    assert (r["replayed"] or "").lower() == "true"
    by_name = {name: (kind, exc, deadline) for kind, name, exc, deadline, _ in r["events"]}
    assert {kind for kind, *_ in r["events"]} == {"HTTP"}
    assert by_name["POST /api/orders"] == ("HTTP", None, 300.0)
    assert by_name["GET /api/orders/[id]"] == ("HTTP", None, 500.0)
    assert by_name["POST /api/orders (malformed json)"][1] is None  # a correct 400 is a success
    assert by_name["POST /api/orders (invalid fields)"][1] is None  # a correct 422 is a success
    accepted = by_name["POST /api/orders (accepted bad)"][1]
    assert accepted is not None and "HTTP 201" in accepted  # an accepted bad order fails
    assert "HTTP 404" in (by_name["GET /api/quotes/[symbol]"][1] or "")
    assert all(positive for *_, positive in r["events"])
    assert r["acked"] == 1


def test_timed_out_placement_is_retried_with_the_same_key() -> None:
    r = run_script("order_retry")
    assert len(r["keys"]) == 2 and r["keys"][0] == r["keys"][1]
    (first_name, first_exc), (second_name, second_exc) = r["events"]
    assert first_name == "POST /api/orders" and first_exc is not None
    assert second_name == "POST /api/orders (retry)" and second_exc is None
    assert len(r["acked"]) == 1 and r["kept"] == list(r["acked"])
