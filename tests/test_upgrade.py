"""`run.py upgrade`: a layout-2 log (bodies base64 in payloads) or a layout-3 one (each row's
payload a frame of its own) becomes layout 4 (bodies once, compressed; events sealed in blocks),
replays identically, and survives being killed half-way."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from app.upgrade import main as upgrade_main
from replay.runner import replay_session
from store import LogError, open_log
from store.upgrade import upgrade
from tests.oldlayout import write_layout2, write_layout3
from tests.test_replay import record_session


class Killed(Exception):
    """Stands for a SIGKILL between two batches: nothing after it runs."""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    return record_session(tmp_path_factory.mktemp("rec"))


WRITERS = {"2": write_layout2, "3": write_layout3}


@pytest.fixture(params=["2", "3"])
def layout(request):
    return request.param


@pytest.fixture
def old(recorded, tmp_path, layout):
    path = tmp_path / "old.db"
    WRITERS[layout](recorded, path)
    return str(path)


def _all(path):
    with open_log(path, create=False) as log:
        return [list(log.events(s.id)) for s in log.sessions()], log.sessions()


def test_a_layout2_log_is_refused_with_the_command_that_converts_it(old):
    with pytest.raises(LogError) as err:
        open_log(old, create=False)
    assert str(err.value).endswith(f"(convert it with: python run.py upgrade {old})")


def test_an_upgraded_session_has_the_same_events_and_replays_identically(recorded, old, layout,
                                                                        capsys):
    if layout == "3":  # the recording's rows were packed one by one, as layout 3 did
        with sqlite3.connect(old) as conn:
            assert conn.execute("SELECT COUNT(z) FROM events").fetchone()[0] > 100
    assert upgrade_main(_ns(old)) == 0
    assert f"the old file is kept as {old}.layout{layout}" in capsys.readouterr().out
    assert _all(old) == _all(recorded)
    with open_log(old, create=False) as log:
        result = replay_session(log, 1)
        assert result.equal and result.compared > 300
        answers, stored = log._conn.execute(
            "SELECT COUNT(body), (SELECT COUNT(*) FROM bodies) FROM events").fetchone()
        blocks, sealed = log._conn.execute(
            "SELECT COUNT(*), SUM(id - first + 1) FROM blocks").fetchone()
        assert blocks > 1 and sealed == log.session(1).events  # sealed whole, as ended
    assert stored < answers  # identical answers (EP-7's acknowledgements) are stored once
    with sqlite3.connect(old + ".layout" + layout) as conn:  # the old file is kept, untouched
        assert conn.execute("SELECT value FROM meta WHERE key='layout'").fetchone() == (layout,)


def test_an_upgrade_killed_half_way_finishes_on_the_next_run_with_the_same_result(old, layout,
                                                                                  tmp_path):
    straight = str(tmp_path / "straight.db")
    shutil.copy(old, straight)
    upgrade(straight, batch=50)

    def kill_after_six(done):
        if done >= 300:
            raise Killed

    with pytest.raises(Killed):
        upgrade(old, batch=50, on_batch=kill_after_six)
    with sqlite3.connect(old + ".upgrading") as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (300,)
        assert conn.execute("SELECT COUNT(*) FROM blocks").fetchone() == (1,)  # 256 sealed
    with sqlite3.connect(old) as conn:  # the source is still the old file, whole
        assert conn.execute("SELECT value FROM meta WHERE key='layout'").fetchone() == (layout,)
    report = upgrade(old, batch=50)
    assert report.resumed
    assert _all(old) == _all(straight)
    with open_log(old, create=False) as log:
        assert replay_session(log, 1).equal


def test_a_log_already_upgraded_or_of_layout_1_is_refused_in_one_line(recorded, tmp_path, capsys):
    assert upgrade_main(_ns(recorded)) == 2
    assert capsys.readouterr().err.strip() == (
        f"upgrade: cannot upgrade {recorded}: it is already layout 4")
    ancient = tmp_path / "ancient.db"
    write_layout2(recorded, ancient)
    with sqlite3.connect(ancient) as conn:
        conn.execute("DELETE FROM meta WHERE key='layout'")
    assert upgrade_main(_ns(str(ancient))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "it is layout 1; only layouts 2 and 3 convert" in err[0]
    broken = tmp_path / "broken.db"
    write_layout3(recorded, broken)
    with sqlite3.connect(broken) as conn:
        conn.execute("DROP TABLE bodies")
    assert upgrade_main(_ns(str(broken))) == 2
    assert capsys.readouterr().err.strip() == (
        f"upgrade: cannot upgrade {broken}: it says layout 3 but has no bodies or dictionaries "
        "table")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert upgrade_main(_ns(str(junk))) == 2
    assert capsys.readouterr().err.strip() == f"upgrade: cannot upgrade {junk}: not an SQLite database"


def _ns(path):
    import argparse
    return argparse.Namespace(path=path)


def test_a_leftover_upgrade_of_another_file_is_refused_in_one_line(recorded, tmp_path, capsys):
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    write_layout2(recorded, first)
    write_layout2(recorded, second)
    with sqlite3.connect(second) as conn:  # b.db now holds one event less than a.db
        conn.execute("DELETE FROM events WHERE id = (SELECT MAX(id) FROM events)")

    with pytest.raises(Killed):
        upgrade(first, batch=50, on_batch=lambda done: (_ for _ in ()).throw(Killed))
    shutil.move(f"{first}.upgrading", f"{second}.upgrading")
    assert upgrade_main(_ns(str(second))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"upgrade: cannot upgrade {second}: {second}.upgrading was made from another "
                   "file (or the log changed since); remove it and run again"]
    with sqlite3.connect(second) as conn:  # untouched
        assert conn.execute("SELECT value FROM meta WHERE key='layout'").fetchone() == ("2",)
