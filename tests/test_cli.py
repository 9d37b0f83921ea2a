"""The ``chaosbench`` command line (as ``python -m chaosbench.cli``) and the bundled files it finds.

The installed console script is tested in tests/test_install.py; here the checkout's editable
install: its bundled profiles, gates and locustfiles are the repository's own folders.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chaosbench import bundled
from chaosbench.cli import COMMANDS, main
from tests.conftest import PYTHON, ROOT


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "chaosbench.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    names = ("run", "validate", "plan", "analyze", "reset", "proxy", "sut", "options")
    for name in names:
        assert f"\n  {name} " in out
    assert set(COMMANDS) == set(names)


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        ([], "chaosbench: which command?"),
        (["vaildate"], "unknown command 'vaildate' (did you mean 'validate'?)"),
        (["validate"], "chaosbench validate: the following arguments are required: profile"),
        (["plan", "default", "--run-time", "soon"], "--run-time: "),
        (["analyze"], "chaosbench analyze: the following arguments are required: RUN_DIR"),
        (["proxy", "--bogus"], "chaosbench proxy: unrecognized arguments: --bogus"),
        (["run", "--users", "x"], "--users: 'x' is not a whole number"),
        (["sut", "--port", "abc"], "--port"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], wanted: str, tmp_path: Path) -> None:
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert wanted in out.stderr


def test_validate_and_plan_a_bundled_profile_from_any_directory(tmp_path: Path) -> None:
    out = cli("validate", "market-maker", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("market-maker: ok (")
    plan = cli("plan", "default", "--seed", "3", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert "baseline" in plan.stdout


def test_the_bundled_files_of_the_checkout_are_its_folders() -> None:
    assert bundled.profiles_dir() == ROOT / "profiles"
    assert bundled.gates_dir() == ROOT / "gates"
    assert bundled.locustfiles_dir() == ROOT / "locustfiles"
    assert bundled.default_profile() == ROOT / "profiles" / "default.yaml"
    assert bundled.default_gate() == ROOT / "gates" / "default.yaml"
    assert "market-maker" in bundled.profile_names()
    assert bundled.gate_names() == sorted(p.stem for p in (ROOT / "gates").glob("*.yaml"))


@pytest.mark.parametrize("spelling", ["loose", "loose.yaml", "gates/loose.yaml"])
def test_a_bundled_gate_by_name(
    spelling: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert bundled.resolve_gate(spelling) == ROOT / "gates" / "loose.yaml"


def test_a_path_wins_over_a_bundled_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default.yaml").write_text("enabled: false\n")
    assert bundled.resolve_profile("default.yaml") == Path("default.yaml")
    assert bundled.resolve_profile("default") == ROOT / "profiles" / "default.yaml"
    assert bundled.resolve_profile("nope") == Path("nope")
    assert bundled.resolve_profile("../profiles/default") == Path("../profiles/default")


def test_analyze_takes_a_bundled_gate_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    from chaosbench.analysis.gate import load_gate

    loose, tight = load_gate("loose"), load_gate("gates/tight.yaml")
    assert (loose.inconclusive_fails, tight.inconclusive_fails) == (False, True)
    assert loose.model_dump(exclude={"source"}) == load_gate(
        str(ROOT / "gates" / "loose.yaml")
    ).model_dump(exclude={"source"})
