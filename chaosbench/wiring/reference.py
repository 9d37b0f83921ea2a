"""The options reference: every option chaosbench registers on Locust's parser, as data and text.

Built from the registrations themselves: Locust's own parser (its arguments, as ``locust``
builds them), then each wiring module's ``install`` on a fresh ``Events`` fires its
``init_command_line_parser`` listeners on that parser, as ``import chaosbench.harness`` does in a
locustfile. Whatever the parser then has beyond Locust's own is chaosbench's. Both
docs/options.md (``chaosbench options --markdown``) and ``chaosbench options`` print from here;
tests/test_options_reference.py keeps the file in sync.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from locust.argument_parser import LocustArgumentParser

REGENERATE = "chaosbench options --markdown > docs/options.md"

#: The modules whose ``install(events)`` chaosbench.harness calls, with a title for each.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("chaosbench.users.options", "Load users: targets, user mix, deadlines, pacing"),
    ("chaosbench.wiring.chaos", "Chaos: profile, fault proxy, seed"),
    ("chaosbench.wiring.console", "Console"),
    ("chaosbench.wiring.results", "Results: run directory, gate, InfluxDB, baseline"),
)

#: Words too common to make two options neighbours.
_COMMON_WORDS = frozenset({"no", "url", "max", "mb", "api"})


@dataclass(frozen=True)
class OptionDoc:
    """One chaosbench option as the parser holds it."""

    flag: str
    dest: str
    section: str
    env_var: str | None
    default: str
    web_ui: bool
    secret: bool
    help: str

    @property
    def conf_key(self) -> str:
        """Its key in locust.conf (and under [tool.locust] in pyproject.toml)."""
        return self.flag.removeprefix("--")


@dataclass(frozen=True)
class Neighbour:
    """A Locust option whose flag shares a word with chaosbench's options ``ours``."""

    theirs: str
    help: str
    ours: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    options: tuple[OptionDoc, ...]
    neighbours: tuple[Neighbour, ...]


def locust_parser() -> LocustArgumentParser:
    """Locust's own parser with its own arguments only (no config files read)."""
    from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments

    parser = get_empty_argument_parser(add_help=False, default_config_files=[])
    setup_parser_arguments(parser)
    return parser


def full_parser() -> tuple[LocustArgumentParser, dict[str, str]]:
    """Locust's parser with chaosbench's options added, and the section of each option's dest."""
    import importlib

    from locust.event import Events

    parser = locust_parser()
    sections: dict[str, str] = {}
    for module_name, title in SECTIONS:
        before = {a.dest for a in parser._actions}
        events = Events()
        importlib.import_module(module_name).install(events)
        events.init_command_line_parser.fire(parser=parser)
        sections.update({a.dest: title for a in parser._actions if a.dest not in before})
    return parser, sections


def _flag(action: Any) -> str:
    longs = [s for s in action.option_strings if s.startswith("--")]
    return longs[0] if longs else action.option_strings[0]


def _bundled_relative(value: str) -> str:
    """A default inside the bundled folders, as ``profiles/NAME`` (the same in any checkout)."""
    from chaosbench import bundled

    path = Path(value)
    if not path.is_absolute():
        return value
    for folder in (bundled.profiles_dir, bundled.gates_dir, bundled.locustfiles_dir):
        root = folder()
        if path.is_relative_to(root):
            return f"{root.name}/{path.relative_to(root).as_posix()}"
    return value


def _default(action: Any) -> str:
    value = action.default
    if value is None or value == "":
        return "(none)"
    if isinstance(value, bool):
        return "on" if value else "off"
    if getattr(action, "is_secret", False) or "dsn" in action.dest or "url" in action.dest:
        from chaosbench.ground.redact import redact

        value = redact(str(value))
    return _bundled_relative(str(value))


def _words(flag: str) -> set[str]:
    return set(flag.removeprefix("--").split("-")) - _COMMON_WORDS


def collect() -> Reference:
    """Every chaosbench option, in registration order, and the Locust options beside them."""
    parser, sections = full_parser()
    ours = [a for a in parser._actions if a.dest in sections]
    options = tuple(
        OptionDoc(
            flag=_flag(a),
            dest=a.dest,
            section=sections[a.dest],
            env_var=getattr(a, "env_var", None),
            default=_default(a),
            web_ui=bool(getattr(a, "include_in_web_ui", True)),
            secret=bool(getattr(a, "is_secret", False)),
            help=" ".join((a.help or "").split()).removeprefix("chaosbench: "),
        )
        for a in ours
    )
    theirs = [a for a in parser._actions if a.dest not in sections and a.option_strings]
    neighbours = []
    for a in theirs:
        near = tuple(o.flag for o in options if _words(o.flag) & _words(_flag(a)))
        if near and a.help != "==SUPPRESS==":
            neighbours.append(Neighbour(_flag(a), " ".join((a.help or "").split()), near))
    return Reference(options, tuple(neighbours))


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(ref: Reference) -> str:
    lines = [
        "# chaosbench options",
        "",
        "<!-- Generated from the registered options by chaosbench/wiring/reference.py;",
        f"     do not edit. Regenerate with: {REGENERATE} -->",
        "",
        "chaosbench adds these options to Locust's own when a locustfile does "
        "`import chaosbench.harness` (the bundled `locustfiles/` do). Locust prints `--help` "
        "before it imports the locustfile, so they are not in `locust -f locustfiles/ --help`: "
        "`chaosbench options` prints this table.",
        "",
        "Each option is a command-line flag, an environment variable and a key of `locust.conf` "
        "(or of `[tool.locust]` in `pyproject.toml`), e.g. `--chaos-seed 7`, "
        "`LOCUST_CHAOS_SEED=7`, `chaos-seed = 7`. *Web UI*: shown in the start form of Locust's "
        "web UI; *secret*: masked there.",
        "",
        "The HTTP target of the load users is Locust's own `--host` (`LOCUST_HOST`).",
    ]
    section = None
    for o in ref.options:
        if o.section != section:
            section = o.section
            lines += [
                "",
                f"## {section}",
                "",
                "| Option | Variable | locust.conf | Default | Web UI | Secret | What it is |",
                "|---|---|---|---|---|---|---|",
            ]
        lines.append(
            f"| `{o.flag}` | `{o.env_var or '(none)'}` | `{o.conf_key}` | `{_cell(o.default)}` "
            f"| {'yes' if o.web_ui else 'no'} | {'yes' if o.secret else 'no'} | {_cell(o.help)} |"
        )
    lines += [
        "",
        "## Locust options beside ours",
        "",
        "Locust's own options whose names share a word with one of chaosbench's, and what each "
        "is (Locust's own help). They are Locust's, not chaosbench's.",
        "",
        "| Locust's | What Locust's is | Beside chaosbench's |",
        "|---|---|---|",
        *(
            f"| `{n.theirs}` | {_cell(n.help)} | {', '.join(f'`{o}`' for o in n.ours)} |"
            for n in ref.neighbours
        ),
        "",
    ]
    return "\n".join(lines)


def render_console(ref: Reference, width: int = 100) -> str:
    """The same reference for a terminal: one block per option."""
    lines = ["chaosbench options: each a flag, a variable and a locust.conf key (docs/options.md)"]
    section = None
    for o in ref.options:
        if o.section != section:
            section = o.section
            lines += ["", f"{section}:"]
        marks = [f"default {o.default}", "web UI" if o.web_ui else "not in the web UI"]
        if o.secret:
            marks.append("secret")
        variable = o.env_var or "(no variable)"
        lines.append(f"  {o.flag}   env {variable}   locust.conf {o.conf_key}")
        lines += textwrap.wrap(
            f"{o.help} [{'; '.join(marks)}]",
            width=width,
            initial_indent="      ",
            subsequent_indent="      ",
        )
    lines += ["", "Locust's own options beside them (not chaosbench's):"]
    for n in ref.neighbours:
        lines += textwrap.wrap(
            f"{n.theirs} (near {', '.join(n.ours)}): {n.help}",
            width=width,
            initial_indent="  ",
            subsequent_indent="      ",
        )
    return "\n".join(lines)


def main(argv: list[str], prog: str = "chaosbench options") -> int:
    """Print the reference: for the console, or (``--markdown``) as docs/options.md."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=main.__doc__)
    parser.add_argument(
        "--markdown", action="store_true", help=f"print docs/options.md ({REGENERATE})"
    )
    args = parser.parse_args(argv)
    ref = collect()
    if args.markdown:
        sys.stdout.write(render_markdown(ref))  # ends with its one newline, as the file does
    else:
        print(render_console(ref))
    return 0
