"""The README kept true to run.py (the clock and randomness seams: test_backtest_determinism)."""

from pathlib import Path

import pytest

import run
from actors.config import BotConfig

ROOT = Path(__file__).resolve().parents[1]
WALL_CLOCK = {("time", "time"), ("time", "time_ns"), ("datetime", "now"),
              ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}


def wall_clock_reads(path: Path) -> list[str]:
    """Calls in `path` that read the wall clock (time.time, datetime.now, ...)."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
            if (name, node.func.attr) in WALL_CLOCK:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}.{node.func.attr}")
    return found


def test_only_run_py_reads_the_wall_clock_anywhere_in_the_tree():
    files = [p for p in ROOT.rglob("*.py")
             if not {".venv", "tests", ".git", "build"} & set(p.relative_to(ROOT).parts)]
    reads = [r for p in files for r in wall_clock_reads(p)]
    assert [r.split(":")[0] + " " + r.split(" ")[1] for r in reads] == ["run.py time.time_ns"]


def test_the_wall_clock_check_sees_a_read(tmp_path):
    bad = ROOT / "tests" / "samples" / "_probe_wall_clock.py"
    try:
        bad.write_text("import datetime, time\nx = time.time()\ny = datetime.datetime.now()\n")
        assert [r.split(" ")[1] for r in wall_clock_reads(bad)] == ["time.time",
                                                                    "datetime.now"]
    finally:
        bad.unlink()


FORBIDDEN_IN_ACTORS = {"sim", "replay", "app", "backtest", "bench", "run", "tests"}


def top_imports(path: Path) -> set[str]:
    """The top-level packages `path` imports (import x.y / from x.y import z)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_bot_never_knows_it_talks_to_a_simulator_or_a_replay():
    """actors/ imports neither sim, replay, the app, backtests nor tests: replay and the
    simulator reach the bot only through the seams the composition root passes in."""
    bad = {f"{p.relative_to(ROOT)} imports {m}" for p in ROOT.glob("actors/*.py")
           for m in top_imports(p) & FORBIDDEN_IN_ACTORS}
    assert not bad, sorted(bad)


def test_the_import_check_sees_an_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import sim.exchange\nfrom replay.recorded import X\nfrom . import y\n")
    assert top_imports(probe) & FORBIDDEN_IN_ACTORS == {"sim", "replay"}


README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("command", list(run.SUBCOMMANDS))
def test_readme_documents_every_subcommand(command):
    assert f"python run.py {command}" in README


def test_readme_gives_the_setup_the_main_job_and_the_test_command_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e '.[dev]'" in README and "pip install --quiet -e '.[dev]'" in ci
    assert "python run.py " in README and "\npytest" in README and "\npytest" in ci


def _keys(struct, prefix=""):
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if hasattr(value, "__struct_fields__"):
            yield from _keys(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


@pytest.mark.parametrize("key", list(_keys(BotConfig())))
def test_readme_documents_every_config_key(key):
    assert f"`{key}`" in README


def test_the_sample_config_file_loads():
    from actors.config import read_config
    cfg = read_config(ROOT / "bot.example.toml")
    assert cfg.strategy.name == "undercut" and cfg.limits.rps == 5


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        run.main(["--help"])
    out = capsys.readouterr().out
    for command in run.SUBCOMMANDS:
        assert command in out
