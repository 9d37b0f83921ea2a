"""docs/options.md is the registered options; every option has its LOCUST_ variable and honours it
(and its locust.conf key), parsed by Locust's own parser as ``locust`` parses its options.

These checks import Locust (which monkey-patches the process), so they run in a pytest process of
their own, started by tests/test_options_reference.py; the file name keeps them out of the main
collection."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaosbench.wiring import reference
from chaosbench.wiring.reference import REGENERATE, OptionDoc, collect, full_parser
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def ref() -> reference.Reference:
    return collect()


def _sample(action: Any) -> tuple[str, object]:
    """A value for the option that is not its default, as text and as parsed."""
    if action.nargs == 0:  # store_true
        return "true", True
    if action.type is int:
        return "7", 7
    if action.type is float:
        return "1.5", 1.5
    text = f"from-{action.dest}-O"
    if isinstance(action, argparse._AppendAction):  # a repeatable option: a list of one
        return text, [text]
    return text, text


def _actions() -> dict[str, Any]:
    parser, sections = full_parser()
    return {a.dest: a for a in parser._actions if a.dest in sections}


def test_docs_options_md_is_the_registered_options(ref: reference.Reference) -> None:
    on_disk = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    assert on_disk == reference.render_markdown(ref), (
        f"docs/options.md differs from the registered options; regenerate it: {REGENERATE}"
    )


def test_the_reference_holds_what_the_harness_registers(ref: reference.Reference) -> None:
    """What `import chaosbench.harness` adds to Locust's get_parser(), in a process of its own."""
    code = (
        "import json, chaosbench.harness\n"
        "from locust.argument_parser import get_empty_argument_parser, get_parser, "
        "setup_parser_arguments\n"
        "own = get_empty_argument_parser(default_config_files=[])\n"
        "setup_parser_arguments(own)\n"
        "locusts = {a.dest for a in own._actions}\n"
        "print(json.dumps(sorted(a.option_strings[-1] for a in "
        "get_parser(default_config_files=[])._actions if a.dest not in locusts)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    registered = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert registered == {o.flag for o in ref.options}
    assert {"--pg-dsn", "--chaos-profile", "--gate", "--baseline-run"} <= registered


def test_every_option_has_its_variable(ref: reference.Reference) -> None:
    missing = [
        o.flag
        for o in ref.options
        if o.env_var != "LOCUST_" + o.flag.removeprefix("--").upper().replace("-", "_")
    ]
    assert missing == [], f"options without their LOCUST_ variable: {missing}"


def test_every_variable_is_honoured_by_locusts_parser(ref: reference.Reference) -> None:
    actions = _actions()
    env: dict[str, str] = {}
    expected: dict[str, object] = {}
    for o in ref.options:
        text, value = _sample(actions[o.dest])
        assert o.env_var is not None
        env[o.env_var] = text
        expected[o.dest] = value
        assert actions[o.dest].default != value, f"{o.flag}: the sample is its default"
    parser, _ = full_parser()
    parsed = vars(parser.parse_args([], env_vars=env))
    got = {dest: parsed[dest] for dest in expected}
    assert got == expected
    defaults = vars(full_parser()[0].parse_args([], env_vars={}))
    assert all(defaults[d] != v for d, v in expected.items())  # the variables made the difference


def test_every_locust_conf_key_is_honoured(ref: reference.Reference, tmp_path: Path) -> None:
    actions = _actions()
    lines, expected = [], {}
    for o in ref.options:
        text, value = _sample(actions[o.dest])
        lines.append(f"{o.conf_key} = {text}")
        expected[o.dest] = value
    conf = tmp_path / "locust.conf"
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parser, _ = full_parser()
    parsed = vars(parser.parse_args(["--config", str(conf)], env_vars={}))
    assert {dest: parsed[dest] for dest in expected} == expected


def _option(ref: reference.Reference, flag: str) -> OptionDoc:
    return next(o for o in ref.options if o.flag == flag)


def test_options_beside_locusts_say_which_is_which(ref: reference.Reference) -> None:
    assert "Not Locust's own --profile" in _option(ref, "--chaos-profile").help
    beside = {n.theirs: n.ours for n in ref.neighbours}
    assert "--chaos-profile" in beside["--profile"]
    text = reference.render_markdown(ref)
    assert "| `--profile` | Set a profile to group the testruns together |" in text


def test_web_ui_and_secret_columns_are_the_registrations(ref: reference.Reference) -> None:
    token, dsn, profile = (
        _option(ref, f) for f in ("--influx-token", "--pg-dsn", "--chaos-profile")
    )
    assert (token.web_ui, profile.web_ui, dsn.web_ui, dsn.secret) == (False, False, True, True)
    assert profile.default == "profiles/default.yaml"  # the same in every checkout


def test_chaosbench_options_prints_the_same(
    ref: reference.Reference, capsys: pytest.CaptureFixture[str]
) -> None:
    from chaosbench.cli import main

    assert main(["options"]) == 0
    console = capsys.readouterr().out
    for o in ref.options:
        assert f"{o.flag}   env {o.env_var}   locust.conf {o.conf_key}" in console
    assert main(["options", "--markdown"]) == 0
    assert capsys.readouterr().out == reference.render_markdown(ref)
