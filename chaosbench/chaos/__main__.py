"""``python -m chaosbench.chaos``: validate a profile, print its schedule, or reset leftovers.

    python -m chaosbench.chaos validate PROFILE [--seed N]
    python -m chaosbench.chaos plan PROFILE [--seed N] [--run-time 5m]
    python -m chaosbench.chaos reset [--ledger PATH] [--force] [--all [--proxy URL]]

``reset`` reverts exactly what the ledger says killed harnesses left (Redis settings, stopped
processes, toxics and downed routes on a proxy in another process), from any folder; only
``--all`` resets a whole fault proxy (another run's toxics included).

Errors are one line ``chaosbench: ...`` and exit code 2.
"""

from __future__ import annotations

import sys

from chaosbench.chaos.profile import format_duration, load_profile, parse_duration
from chaosbench.chaos.runtime import DEFAULT_PROXY_API, api_url, reset_proxy
from chaosbench.chaos.schedule import cut_phases, describe_plan
from chaosbench.ground.cliargs import OneLineParser
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, ChaosbenchError, OptionError


def _parser(prog: str = "python -m chaosbench.chaos") -> OneLineParser:
    p = OneLineParser(prog=prog, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="validate a profile completely")
    v.add_argument("profile")
    v.add_argument("--seed", type=int, default=None)
    pl = sub.add_parser("plan", help="print the schedule of a profile")
    pl.add_argument("profile")
    pl.add_argument("--seed", type=int, default=None)
    pl.add_argument("--run-time", default=None, help="say which phases this run time cuts")
    r = sub.add_parser(
        "reset",
        help="revert what killed harnesses left, as the ledger records it",
        description="Revert exactly what the ledger records that killed harnesses left: Redis "
        "settings, stopped processes, toxics and downed routes on a fault proxy in another "
        "process. Works from any folder (one ledger per machine and user). A whole proxy is "
        "reset only with --all.",
    )
    r.add_argument(
        "--ledger",
        default=None,
        help="ledger file (default: $CHAOSBENCH_LEDGER, else "
        "$XDG_STATE_HOME/chaosbench/ledger.json, else ~/.local/state/chaosbench/ledger.json)",
    )
    r.add_argument("--force", action="store_true", help="also entries of a running harness")
    r.add_argument(
        "--all",
        action="store_true",
        help="ALSO reset the whole fault proxy at --proxy: every toxic removed and every route "
        "up, those of other runs included",
    )
    r.add_argument(
        "--proxy",
        default=None,
        help=f"the fault proxy API --all resets (default {api_url(DEFAULT_PROXY_API)})",
    )
    return p


def main(argv: list[str] | None = None, prog: str = "python -m chaosbench.chaos") -> int:
    args = _parser(prog).parse_args(argv)
    try:
        if args.command == "validate":
            profile = load_profile(args.profile, seed=args.seed)
            print(
                f"{args.profile}: ok ({len(profile.faults)} faults, {len(profile.routes)} routes, "
                f"{profile.phases.bursts} bursts, {format_duration(profile.phases.total)})"
            )
        elif args.command == "plan":
            profile = load_profile(args.profile, seed=args.seed)
            print("\n".join(describe_plan(profile)))
            if args.run_time is not None:
                try:
                    run_time = parse_duration(args.run_time)
                except ValueError as exc:
                    raise OptionError(f"--run-time: {exc}") from None
                cut = cut_phases(profile, run_time)
                print(f"--run-time {args.run_time} cuts: {', '.join(cut) or 'nothing'}")
        else:
            if args.proxy is not None and not args.all:
                raise OptionError(
                    "--proxy: only with --all (a reset without --all reverts the ledger's "
                    "entries on whatever proxy they name)"
                )
            whole = (args.proxy or api_url(DEFAULT_PROXY_API)) if args.all else None
            return _reset(args.ledger, whole, args.force)
    except ChaosbenchError as err:
        print(f"chaosbench: {err}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    return 0


def _reset(ledger: str | None, proxy: str | None, force: bool) -> int:
    from chaosbench.chaos.ledger import default_ledger_path, revert_leftovers

    path = ledger if ledger is not None else default_ledger_path()
    lines = revert_leftovers(path, force=force)
    for line in lines:
        print(line)
    if not lines:
        print(f"ledger {path}: nothing to revert")
    failed = any(line.startswith("failed") for line in lines)
    if proxy is not None:
        try:
            print(reset_proxy(proxy))
        except ChaosbenchError as err:
            print(f"fault proxy {proxy}: not reset ({err})")
    return EXIT_CANNOT_MEASURE if failed else 0


if __name__ == "__main__":
    sys.exit(main())
