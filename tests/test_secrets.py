"""The API secret stays secret: nowhere in the log file (WAL included), stdout or stderr, nor in
any repr or error message; and keys come only from the environment or an owner-only file."""

from __future__ import annotations

import pickle
import signal
import sqlite3

import msgspec
import pytest

from c2c.credentials import Credentials, CredentialsError, Secret, from_env, read_secret_file
from events import ApiResponse
from sim import SimConfig
from tests.reliability_live import (LiveRun, bot_env, committed_events, read_intact_log, wait_for,
                                    write_bot_toml)
from tests.reliability_sim import SimThread

KEY = "h5KeyForTheSecretsTest0000000000000000000000000000000000000000000"
SECRET = "h5-Zq7VxSecretThatMustNeverLeak-3c9e51d0a4"
WRONG = "h5-Wr0ngSecretAlsoNeverToBeSeen-77b2e4f160"


@pytest.fixture(scope="module")
def sim():
    with SimThread(SimConfig(seed=9, api_key=KEY, api_secret=Secret(SECRET),
                             order_rate_per_s=0.5)) as running:
        yield running


def _files_holding(needle: str, paths) -> list[str]:
    raw = needle.encode()
    return [p.name for p in paths if p.exists() and raw in p.read_bytes()]


def _signed_answers_ok(db) -> int:
    signed = ("EP-4", "EP-15", "EP-33", "EP-7")
    return sum(1 for envs in read_intact_log(db).values() for e in envs
               if isinstance(e.event, ApiResponse) and e.event.endpoint in signed
               and e.event.status == 200)


@pytest.mark.e2e  # starts `python run.py live` processes
def test_after_live_runs_the_secret_is_nowhere_in_the_db_its_wal_or_the_output(sim, tmp_path):
    db = tmp_path / "bot.db"
    toml = write_bot_toml(tmp_path / "bot.toml", sim.base_url, orders={"poll_interval_s": 1.0})
    clean = LiveRun(db, toml, "--duration", "3", env=bot_env(KEY, SECRET), name="clean")
    assert clean.wait(30) == 0, clean.stderr()
    refused = LiveRun(db, toml, "--duration", "2", env=bot_env(KEY, WRONG), name="refused")
    assert refused.wait(30) == 0, refused.stderr()
    killed = LiveRun(db, toml, env=bot_env(KEY, SECRET), name="killed")
    try:  # a killed writer leaves its last commits in the WAL, not yet in the main file
        wait_for(lambda: committed_events(db) > 0 and db.with_name("bot.db-wal").exists()
                 and _wal_has_frames(db), 30, "a WAL with frames")
        killed.proc.send_signal(signal.SIGKILL)
        killed.wait()
    finally:
        killed.stop_now()
    files = [db, db.with_name("bot.db-wal"), db.with_name("bot.db-shm"),
             *(tmp_path / f"{run}.{out}" for run in ("clean", "refused", "killed")
               for out in ("stdout", "stderr"))]
    assert db.with_name("bot.db-wal").stat().st_size > 0
    assert _files_holding(SECRET, files) == []
    assert _files_holding(WRONG, files) == []
    assert _signed_answers_ok(db) >= 3  # the secret was used: signed calls went through


def _wal_has_frames(db) -> bool:
    wal = db.with_name("bot.db-wal")
    return wal.exists() and wal.stat().st_size > 32


def test_credentials_and_secrets_redact_themselves_everywhere():
    creds = Credentials(KEY, SECRET)
    shown = [repr(creds), str(creds), f"{creds}", "%s %r" % (creds, creds), repr(creds.secret),
             str(creds.secret), repr([creds, creds.secret]), repr({"c": creds})]
    assert all(SECRET not in text for text in shown)
    assert all(KEY not in text for text in shown)  # only the key's last 4 characters
    with pytest.raises(TypeError) as encoded:
        msgspec.json.encode(creds.secret)
    assert SECRET not in str(encoded.value)
    with pytest.raises(TypeError):
        pickle.dumps(creds.secret)
    assert creds.secret.reveal() == SECRET  # for signing only


def test_a_secret_file_readable_by_others_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    path.chmod(0o644)
    with pytest.raises(CredentialsError) as refused:
        from_env({"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET_FILE": str(path)})
    assert "chmod 600" in str(refused.value) and SECRET not in str(refused.value)
    path.chmod(0o600)
    assert read_secret_file(path) == SECRET


def _live(tmp_path, toml, *args, env, name):
    run = LiveRun(tmp_path / "keys.db", toml, *args, env=env, name=name)
    code = run.wait(30)
    return code, run.stdout(), run.stderr()


@pytest.mark.e2e  # starts `python run.py live` processes
def test_live_takes_keys_only_from_the_environment_or_an_owner_only_file(sim, tmp_path):
    toml = write_bot_toml(tmp_path / "bot.toml", sim.base_url)
    code, out, err = _live(tmp_path, toml, env=bot_env(KEY, None), name="missing")
    assert code == 2 and err.startswith("error: missing BINANCE_API_SECRET in the environment")
    assert not (tmp_path / "keys.db").exists()

    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o640)
    env = bot_env(KEY, None, BINANCE_API_SECRET_FILE=str(secret_file))
    code, out, err = _live(tmp_path, toml, env=env, name="loose")
    assert code == 2 and "refusing secret file" in err and "chmod 600" in err
    assert "Traceback" not in err and SECRET not in out + err

    in_config = write_bot_toml(tmp_path / "creds.toml", sim.base_url,
                               credentials={"api_key": KEY, "api_secret": SECRET})
    code, out, err = _live(tmp_path, in_config, env=bot_env(KEY, SECRET), name="config")
    assert code == 2 and "credentials" in err and SECRET not in out + err

    secret_file.chmod(0o600)
    code, out, err = _live(tmp_path, toml, "--duration", "2", env=env, name="owner")
    assert code == 0, err
    assert SECRET not in out + err
    assert _signed_answers_ok(tmp_path / "keys.db") >= 1


def test_wal_frames_are_checked_by_reading_the_file_not_sqlite(tmp_path):
    # Guards the secrets test itself: a value committed in WAL mode is in the -wal file's bytes.
    db = tmp_path / "probe.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (v TEXT)")
    conn.execute("INSERT INTO t VALUES (?)", (WRONG,))
    conn.commit()
    assert _files_holding(WRONG, [db.with_name("probe.db-wal")]) == ["probe.db-wal"]
    conn.close()
