"""The argument parser of every chaosbench command line: a bad flag is one line, exit code 2."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from chaosbench.ground.errors import EXIT_CANNOT_MEASURE


class OneLineParser(argparse.ArgumentParser):
    """``chaosbench: <prog>: <what is wrong> (see <prog> --help)`` on stderr, exit 2; no usage
    block. Subparsers are of the same class (argparse creates them with ``type(self)``)."""

    def error(self, message: str) -> NoReturn:
        print(f"chaosbench: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_CANNOT_MEASURE)
