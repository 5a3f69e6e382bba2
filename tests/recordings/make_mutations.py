"""Build `mutations.db.gz`: the committed recording that tests/test_mutations.py replays.

A 45 s demo session on the in-process simulator (MockClock, seed 11), shaped so that every
mutation the test applies has something to change: the book polled on both sides with the
limiter at its 5/s budget, reprices with a narrow price band (so EP-7 answers 187055 and the
ads actor searches), orders that open, change status and get greeted, chat, and at t=40 s a
fatal answer (-2008 on EP-15) that stops the run. Rebuild after a deliberate change of the
bot's behaviour, and say why in the commit:

    python tests/recordings/make_mutations.py
"""

from __future__ import annotations

import gzip
import random
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import httpx
import trio
import trio.testing

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.config import config_json  # noqa: E402
from actors.restore import restore  # noqa: E402
from actors.system import LIVE_ACTORS, BotDeps, run_bot  # noqa: E402
from app.demo import VIRTUAL_BASE_MS, VIRTUAL_URL, demo_config, virtual_now_ms  # noqa: E402
from c2c.credentials import Credentials  # noqa: E402
from sim import DEMO_API_KEY, DEMO_SECRET, SimConfig, SimExchange, answers  # noqa: E402
from sim.inprocess import SimTransport, chat_connector  # noqa: E402
from store import open_log  # noqa: E402

OUT = Path(__file__).with_name("mutations.db.gz")
SEED = 11
DURATION_S = 45.0
FATAL_AT_S = 40.0


class FatalLater(SimTransport):
    """The simulator, except that the first EP-15 from FATAL_AT_S on is answered -2008."""

    fired = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (not self.fired and trio.current_time() >= FATAL_AT_S
                and request.url.path.endswith("/orderMatch/listOrders")):
            self.fired = True
            resp = answers.answer("-2008")
            await trio.sleep(0.003)
            return httpx.Response(resp.status, headers=list(resp.headers), content=resp.body,
                                  request=request)
        return await super().handle_async_request(request)


def record(path: Path) -> int:
    sim_cfg = SimConfig(seed=SEED, band=Decimal("0.007"))
    exchange = SimExchange(sim_cfg, now_ms=virtual_now_ms)
    cfg = demo_config(VIRTUAL_URL, sim_cfg)
    with open_log(path) as log:
        sid = log.start_session("demo", config_json(cfg, actors=LIVE_ACTORS, seed=SEED),
                                VIRTUAL_BASE_MS)

        async def main() -> str:
            async with trio.open_nursery() as nursery:
                await nursery.start(exchange.run_market)
                transport = FatalLater(exchange, rng=random.Random(SEED))
                async with httpx.AsyncClient(transport=transport) as client:
                    deps = BotDeps(config=cfg, client=client, connect=chat_connector(exchange),
                                   credentials=Credentials(DEMO_API_KEY, DEMO_SECRET),
                                   now_ms=virtual_now_ms, seed=SEED,
                                   restored=restore(log, before_session=sid))
                    reason = await run_bot(log, sid, deps, actors=LIVE_ACTORS,
                                           duration=DURATION_S)
                nursery.cancel_scope.cancel()
            return reason

        reason = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
        log.end_session(sid, virtual_now_ms_at(DURATION_S), reason)
    return sid


def virtual_now_ms_at(t: float) -> int:
    return VIRTUAL_BASE_MS + int(t * 1000)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mutations.db"
        record(db)
        import sqlite3

        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("VACUUM")
        con.close()
        with open(db, "rb") as src, gzip.open(OUT, "wb", compresslevel=9) as dst:
            shutil.copyfileobj(src, dst)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
