"""The ``--threshold`` option (k6's thresholds on the command line), registered beside the
results options (``chaosbench.wiring.results.install`` adds its listener).

The values are parsed (and a bad one refused with one line) at ``init``, before any load, with
the gate: ``chaosbench.analysis.thresholds.from_options``; the run is judged with the gate's
thresholds and these over them (docs/analysis.md, Thresholds).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("chaosbench.results")


def add_threshold_option(parser: Any) -> None:
    parser.add_argument(
        "--threshold",
        action="append",
        default=None,
        env_var="LOCUST_THRESHOLD",
        include_in_web_ui=False,  # read at init and at the end: not a per-test form field
        metavar="'METRIC{TAG:VALUE}: EXPR'",
        help="chaosbench: a threshold in k6's vocabulary, e.g. "
        "'http_req_duration{kind:HTTP}: p(95)<500', 'http_req_failed: rate<0.01', "
        "'http_reqs: rate>100'; repeatable (the variable: one, or a JSON list); added to the "
        "gate's thresholds, replacing one on the same metric, tags and aggregation",
    )


def values(options: Any) -> list[str]:
    """The ``--threshold`` values given (none when the option is not registered)."""
    return list(getattr(options, "threshold", None) or [])


def warn_if_nothing_to_judge(disabled_reason: str | None, has_thresholds: bool) -> None:
    """At start: a run without chaos and without a threshold will end in exit 2; say so now."""
    if disabled_reason is not None and not has_thresholds:
        log.warning(
            "chaosbench: chaos is off (%s) and no threshold is configured: the run will have "
            "nothing to judge (exit 2); add --threshold 'http_req_duration: p(95)<500' or a "
            "thresholds: section to the gate",
            disabled_reason,
        )
