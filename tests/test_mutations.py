"""A changed behaviour must not replay "identical": mutations of the bot against a recording.

Each test applies one behavioural mutation of the bot in this process (monkeypatch) and replays
the committed recording `tests/recordings/mutations.db.gz` (a 45 s demo session on the
in-process simulator: both book sides polled at the 5/s budget, reprices refused 187055 and
searched, an order greeted whose status then changes, and a fatal -2008 at 40 s; rebuilt by
`tests/recordings/make_mutations.py`). The replay must diverge, with a first divergence a
reader can act on; a mutation that replays equal is a hole in replay and fails here. The
unmutated replay is checked too, so a divergence is the mutation's, not the recording's.
"""

from __future__ import annotations

import gzip
import heapq
import shutil
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import trio

import actors.ads
import actors.ads_core
import actors.chat
import actors.chat_core
import actors.limiter_core
import actors.market
from actors.ratelimit import RateWindow
from c2c.errors import Action
from events import OrderStatusChanged
from replay.runner import replay_session
from store import open_log

RECORDING = Path(__file__).parent / "recordings" / "mutations.db.gz"


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("mutations") / "mutations.db"
    with gzip.open(RECORDING) as src, open(db, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return db


def replay(db: Path):
    with open_log(db, create=False) as log:
        return replay_session(log, 1)


def _target(owner, name: str):
    """The attribute a mutation patches; a clear failure when a refactor moved it."""
    if not hasattr(owner, name):
        pytest.fail(f"mutation target {owner.__name__}.{name} is gone: point the mutation at "
                    "where that behaviour lives now")
    return getattr(owner, name)


# --- the mutations ------------------------------------------------------------------------------


def duplicated_poller(mp):
    """The market polls each side twice over (a second poller, half an interval behind)."""
    poll = _target(actors.market.Market, "_poll_side")

    async def twice(self, key, offset_s):
        half = self.state.stream(key).step / 2
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poll, self, key, offset_s)
            nursery.start_soon(poll, self, key, offset_s + half)

    mp.setattr(actors.market.Market, "_poll_side", twice)


def widened_window(mp):
    """The limiter's window lets 15 calls a second through instead of limits.rps (5)."""
    _target(actors.limiter_core, "RateWindow")
    mp.setattr(actors.limiter_core, "RateWindow",
               lambda limit, window_s=1.0, **kw: RateWindow(15, window_s, **kw))


def page_gap_removed(mp):
    """EP-0 calls no longer keep limits.page_delay_s apart at the limiter."""
    _target(actors.limiter_core, "gap_ready")
    mp.setattr(actors.limiter_core, "gap_ready", lambda state, endpoint: 0.0)


def priority_inverted(mp):
    """The limiter serves the least urgent queued call first."""
    enqueue = _target(actors.limiter_core, "enqueue")

    def inverted(state, env, attempt, turn=actors.limiter_core.LIVE_TURN):
        enqueue(state, env, attempt, turn)
        entry = state.queue.pop()
        state.queue.append((-entry[0], *entry[1:]))
        heapq.heapify(state.queue)

    mp.setattr(actors.limiter_core, "enqueue", inverted)


def fatal_swallowed(mp):
    """A fatal answer (-2008, a rejected key) no longer stops the bot."""
    decide = _target(actors.limiter_core, "decide_answer")

    def swallow(state, req, attempt, action, error, headers):
        steps = decide(state, req, attempt, action, error, headers)
        if action is Action.FATAL:
            return [s for s in steps if not isinstance(s, (actors.limiter_core.Stop,
                                                           actors.limiter_core.Failed))]
        return steps

    mp.setattr(actors.limiter_core, "decide_answer", swallow)


def strategy_step_changed(mp):
    """The strategy prices one step of 0.02 where the config says 0.01."""
    evaluate = _target(actors.ads_core, "evaluate")

    def doubled(book, my_ad, cfg, *args, **kw):
        return evaluate(book, my_ad, msgspec.structs.replace(cfg, step=cfg.step * 2),
                        *args, **kw)

    mp.setattr(actors.ads_core, "evaluate", doubled)


def search_removed(mp):
    """EP-7 answered 187055 (price outside the band) no longer searches for a valid price."""
    _target(actors.ads.Ads, "_search_valid_price")

    async def no_search(self, st, target, cause):
        return None

    mp.setattr(actors.ads.Ads, "_search_valid_price", no_search)


def greeting_repeated(mp):
    """The chat greets an order again whenever it hears of it again (a status change)."""
    decide = _target(actors.chat_core, "decide")

    def greet_again(state, event, now=0.0):
        steps = decide(state, event, now)
        if isinstance(event, OrderStatusChanged):
            steps.append(actors.chat_core.Reply(order_no=event.order_no, content=state.greeting,
                                                reason="greeting"))
        return steps

    mp.setattr(actors.chat_core, "decide", greet_again)


# The type of the first divergence says the replay caught the mutation for the right reason.
MUTATIONS = [
    (duplicated_poller, ("ApiRequest", "RequestDispatched")),
    (widened_window, ("RequestDispatched",)),
    (page_gap_removed, ("RequestDispatched",)),
    (priority_inverted, ("RequestDispatched",)),
    (fatal_swallowed, ("RunStopped",)),
    (strategy_step_changed, ("RepriceDecided",)),
    (search_removed, ("ApiRequest", "RequestDispatched", "RepriceFailed", "AdRepriced")),
    (greeting_repeated, ("ChatSendRequest",)),
]


def test_the_recording_replays_identical_unmutated(recording):
    result = replay(recording)
    assert result.equal, result.divergence.render() if result.divergence else result.unrecorded


@pytest.mark.parametrize("mutate, first_types", MUTATIONS, ids=[m.__name__ for m, _ in MUTATIONS])
def test_a_mutation_of_the_bot_diverges_with_a_readable_first_divergence(
        recording, monkeypatch, mutate, first_types):
    mutate(monkeypatch)
    result = replay(recording)
    assert not result.equal, f"mutation survived: {mutate.__doc__}"
    div = result.divergence
    assert div is not None, result.unrecorded
    text = div.render()
    print(f"{mutate.__name__}:\n{text}")
    assert div.type in first_types, text
    assert text.startswith("first divergence at ") and "expected: " in text and "got: " in text
    assert div.chain and all(line.startswith("seq ") for line in div.chain)


def test_the_mutations_cover_the_issue_list():
    assert len(MUTATIONS) >= 8
    assert Decimal("0.01") * 2 == Decimal("0.02")  # the step mutation doubles the config's step
