"""The command line: ``chaosbench run|validate|plan|analyze|reset|proxy|sut|options`` (the console
script).

Each subcommand hands its arguments to the part's own entry point, which ``python -m
chaosbench.<part>`` runs too. Nothing heavy is imported before the subcommand is known:
``chaosbench sut`` monkey-patches gevent before the reference system is imported, as
``python -m chaosbench.sut`` does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from chaosbench.ground.errors import EXIT_CANNOT_MEASURE

Entry = Callable[[list[str]], int]


def _run(argv: list[str]) -> int:
    from chaosbench.cli.mainjob import main

    return main(argv, prog="chaosbench run")


def _chaos(command: str) -> Entry:
    def entry(argv: list[str]) -> int:
        from chaosbench.chaos.__main__ import main

        return main([command, *argv], prog="chaosbench")

    return entry


def _analyze(argv: list[str]) -> int:
    from chaosbench.analysis.cli import main

    return main(argv, prog="chaosbench analyze")


def _proxy(argv: list[str]) -> int:
    from chaosbench.proxy.__main__ import main

    return main(argv, prog="chaosbench proxy")


def _options(argv: list[str]) -> int:
    from chaosbench.wiring.reference import main

    return main(argv, prog="chaosbench options")


def _sut(argv: list[str]) -> int:
    from gevent import monkey

    monkey.patch_all()  # before the reference system (and what it imports) is imported
    from chaosbench.sut.main import main

    return main(argv)


#: name -> (what it does, its entry point)
COMMANDS: dict[str, tuple[str, Entry]] = {
    "run": ("the main job: the reference system behind the fault proxy, load, chaos, a verdict "
            "(as make run)", _run),
    "validate": ("validate a chaos profile completely (a path or a bundled profile's name)",
                 _chaos("validate")),
    "plan": ("print the schedule of a chaos profile", _chaos("plan")),
    "analyze": ("judge a run directory against a gate and write its reports", _analyze),
    "reset": ("revert what killed harnesses left, as the ledger records it (--all: a whole "
              "fault proxy too)", _chaos("reset")),
    "proxy": ("the embedded Toxiproxy-compatible fault proxy on its own", _proxy),
    "sut": ("the reference system under test, in the foreground", _sut),
    "options": ("every option chaosbench adds to Locust's: flag, variable, locust.conf key "
                "(--markdown: docs/options.md)", _options),
}  # fmt: skip


def usage() -> str:
    from chaosbench import __version__

    width = max(map(len, COMMANDS))
    lines = [
        f"chaosbench {__version__}: load-plus-chaos benchmarks on Locust",
        "",
        "usage: chaosbench COMMAND [ARGS...]   (chaosbench COMMAND --help for its arguments)",
        "",
        "commands:",
        *(f"  {name:<{width}}  {what}" for name, (what, _) in COMMANDS.items()),
        "",
        "exit codes: 0 pass, 1 gate failed, 2 could not run or measure (or bad input)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(f"chaosbench: which command? ({', '.join(COMMANDS)}; see chaosbench --help)",
              file=sys.stderr)  # fmt: skip
        return EXIT_CANNOT_MEASURE
    name, rest = args[0], args[1:]
    if name in ("-h", "--help", "help"):
        print(usage())
        return 0
    if name == "--version":
        from chaosbench import __version__

        print(f"chaosbench {__version__}")
        return 0
    if name not in COMMANDS:
        from chaosbench.chaos.profile.errors import did_you_mean

        print(
            f"chaosbench: unknown command {name!r}{did_you_mean(name, COMMANDS)}; "
            f"commands: {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return EXIT_CANNOT_MEASURE
    try:
        return COMMANDS[name][1](rest)
    except BrokenPipeError:  # `chaosbench plan X | head`: the reader left; no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
