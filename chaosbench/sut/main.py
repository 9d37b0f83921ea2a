"""``python -m chaosbench.sut``: parse settings, run the gateway. Bad options: one line, exit 2."""

from __future__ import annotations

import logging
import sys

from chaosbench.sut.errors import SutError


def main(argv: list[str] | None = None) -> int:
    from chaosbench.sut.app import Sut
    from chaosbench.sut.config import parse_settings

    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv)
    except SutError as exc:
        print(f"sut: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s sut %(levelname)s %(message)s"
    )
    try:
        sut = Sut(settings)
        sut.serve_forever()
    except OSError as exc:
        print(
            f"sut: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    return 0
