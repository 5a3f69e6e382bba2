"""Pricing and backtests read no hidden clock and no hidden chance: time and randomness come in
as parameters (DESIGN.md "Seams"), so the same books always give the same results."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "strategies", "replay")
# Where a wall-clock read would be allowed: nowhere. run.py reads the clock and injects it.
ALLOWED: set[tuple[str, str]] = set()

FORBIDDEN_CALLS = {
    ("time", "time"), ("time", "time_ns"), ("datetime", "now"), ("datetime", "utcnow"),
    ("datetime", "today"), ("date", "today"), ("uuid", "uuid1"), ("uuid", "uuid4"),
}
FORBIDDEN_NAMES = {"uuid1", "uuid4"}
SEEDABLE = {"Random"}  # random.Random(seed) is how chance is injected


def _dotted(node: ast.expr) -> tuple[str, ...]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return tuple(reversed(parts))


def _forbidden(call: ast.Call) -> str | None:
    name = _dotted(call.func)
    if not name:
        return None
    if name[-2:] in FORBIDDEN_CALLS or (len(name) == 1 and name[0] in FORBIDDEN_NAMES):
        return ".".join(name)
    if len(name) == 2 and name[0] == "random" and name[1] not in SEEDABLE:
        return ".".join(name)
    return None


def _bad_imports(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("random", "time", "uuid"):
            names = {a.name for a in node.names}
            bad = names - SEEDABLE if node.module == "random" else names & {
                "time", "time_ns", "uuid1", "uuid4"}
            out += [f"from {node.module} import {n}" for n in sorted(bad)]
    return out


class _Calls(ast.NodeVisitor):
    """Collect (enclosing function, line, forbidden call) for every call in a module."""

    def __init__(self) -> None:
        self.where = ["<module>"]
        self.found: list[tuple[str, int, str]] = []

    def _function(self, node) -> None:
        self.where.append(node.name)
        self.generic_visit(node)
        self.where.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Call(self, node: ast.Call) -> None:
        if bad := _forbidden(node):
            self.found.append((self.where[-1], node.lineno, bad))
        self.generic_visit(node)


def _offences(path: Path, root: Path = ROOT) -> list[str]:
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(), filename=rel)
    calls = _Calls()
    calls.visit(tree)
    return [f"{rel}: {line}" for line in _bad_imports(tree)] + [
        f"{rel}:{line} {where}() calls {bad}" for where, line, bad in calls.found
        if (rel, where) not in ALLOWED]


def test_actors_strategies_and_replay_never_read_the_wall_clock_uuid4_or_global_random():
    files = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
    assert files
    offences = [o for f in files for o in _offences(f)]
    assert offences == []


def test_the_check_catches_each_forbidden_call(tmp_path):
    src = tmp_path / "replay" / "bad.py"
    src.parent.mkdir()
    src.write_text("import random, time, uuid, datetime\nfrom random import choice\n"
                   "def f():\n    return (time.time(), datetime.datetime.now(), uuid.uuid4(),"
                   " random.random(), random.Random(1))\n")
    found = _offences(src, tmp_path)
    assert found == ["replay/bad.py: from random import choice",
                     "replay/bad.py:4 f() calls time.time",
                     "replay/bad.py:4 f() calls datetime.datetime.now",
                     "replay/bad.py:4 f() calls uuid.uuid4",
                     "replay/bad.py:4 f() calls random.random"]


def test_the_backtest_stamps_its_session_with_the_injected_clock(monkeypatch):
    import argparse

    from backtest import cli as backtest

    seen = []
    monkeypatch.setattr(backtest, "_run", lambda args, now_ms: seen.append(now_ms()) or 0)
    assert backtest.main(argparse.Namespace(), now_ms=lambda: 7) == 0
    assert seen == [7]
