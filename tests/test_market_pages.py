"""The market turns a page it saw before into the same BookAds only while my ads are the same
(replay speed, issue 13: half the pages of a quiet hour repeat, so their BookAds are kept)."""

from pathlib import Path

import pytest
import trio

from actors.config import BotConfig
from actors.market import Market
from c2c.decode import decode_envelope, parse_search
from c2c.errors import C2CError

SAMPLE = Path(__file__).parent / "samples" / "bapi-adv-search_USDT-RUB_tradeType-SELL_2022-06-20.json"


def test_a_page_seen_again_shows_my_ad_as_mine_once_my_ads_are_known():
    body = SAMPLE.read_bytes()
    page = parse_search(200, (), body)
    mine = page.items[0].adv.adv_no
    snaps = []

    async def emit(event, cause=None):
        snaps.append(event)

    async def main():
        market = Market(None, emit, config=BotConfig())

        async def one_page(side, page_no, m):
            class Env:
                seq = 1
            return Env, parse_search(200, (), body)  # the very SearchPage, as a repeated page

        market._page = one_page
        await market.snapshot("SELL", 1)
        market.state.my_adv_nos = frozenset({mine})  # MyAdsLoaded came in between
        await market.snapshot("SELL", 1)
        market.state.my_adv_nos = frozenset()
        await market.snapshot("SELL", 1)

    trio.run(main)
    assert [[ad.adv_no for ad in s.ads if ad.mine] for s in snaps] == [[], [mine], []]
    assert [ad.adv_no for ad in snaps[0].ads] == [item.adv.adv_no for item in page.items]


def test_the_same_bytes_on_an_error_status_are_still_refused_after_a_success():
    """Recent successful envelopes are kept (the limiter classifies each answer, its caller
    decodes it again); the status is part of what is kept (reference §7: a non-2xx status is an error)."""
    body = SAMPLE.read_bytes()
    assert decode_envelope("EP-0", 200, (), body).total is not None
    with pytest.raises(C2CError):
        decode_envelope("EP-0", 503, (), body)
