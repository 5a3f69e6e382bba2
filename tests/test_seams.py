"""The README kept true to run.py (the clock and randomness seams: test_backtest_determinism)."""

from pathlib import Path

import pytest

import run
from actors.config import BotConfig

ROOT = Path(__file__).resolve().parents[1]
def test_only_run_py_reads_the_wall_clock():
    assert "time.time_ns()" in (ROOT / "run.py").read_text()


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
