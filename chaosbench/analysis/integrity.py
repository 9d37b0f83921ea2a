"""Integrity of what the system under test acknowledged: orders, the WebSocket stream, canary."""

from __future__ import annotations

from dataclasses import dataclass

from chaosbench.analysis.model import Integrity


@dataclass(slots=True)
class IntegritySummary:
    checked: bool  # the end-of-run check against PostgreSQL ran
    orders_acknowledged: int
    orders_lost: int
    orders_duplicated: int
    canary_injected: int
    canary_found: int  # discrepancies the check found in records the canary corrupted
    ws_messages: int
    ws_gaps: int
    ws_duplicates: int
    ws_reorders: int
    ws_resumes: int
    check_note: str = ""  # why the order check did not run, as the recorder wrote it

    @property
    def order_violations(self) -> int:
        """Lost + duplicated acknowledged orders + discrepancies found (canary included)."""
        return self.orders_lost + self.orders_duplicated + self.canary_found

    @property
    def canary_missed(self) -> bool:
        """The canary corrupted records and the check did not notice: the check is blind."""
        return self.canary_injected > 0 and self.canary_found == 0

    @property
    def stream_expected(self) -> int:
        return self.ws_messages + self.ws_gaps

    @property
    def stream_loss_ratio(self) -> float | None:
        """Messages missing after resume over messages that should have arrived."""
        return self.ws_gaps / self.stream_expected if self.stream_expected else None


def summarize_integrity(i: Integrity) -> IntegritySummary:
    return IntegritySummary(
        checked=i.checked,
        orders_acknowledged=i.orders_acknowledged,
        orders_lost=i.orders_lost,
        orders_duplicated=i.orders_duplicated,
        canary_injected=i.canary_injected,
        canary_found=i.canary_found,
        ws_messages=i.ws_messages,
        ws_gaps=i.ws_gaps,
        ws_duplicates=i.ws_duplicates,
        ws_reorders=i.ws_reorders,
        ws_resumes=i.ws_resumes,
        check_note=str(i.extra.get("order_check", "")),
    )
