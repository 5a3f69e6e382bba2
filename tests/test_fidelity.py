"""The pure parts of bench/fidelity.py: the simulator's truth, the live counts, the ratios."""

from decimal import Decimal as D
from types import SimpleNamespace

import msgspec

from backtest import fidelity
from events import AdRepriced, BookAd, BookSnapshot, Envelope, RepriceDecided
from backtest.recheck import DecisionCheck
from backtest.engine import SessionTape


def order(adv_no, amount, status):
    return SimpleNamespace(adv_no=adv_no, amount=D(amount), status=status)


def report(**filled):
    return SimpleNamespace(filled_volume={k: D(v) for k, v in filled.items()},
                           reprices_accepted=4, duration_s=300.0)


def test_the_truth_keeps_what_counterparties_did_not_cancel_and_what_completed():
    ads = [SimpleNamespace(adv_no="s", side="SELL"), SimpleNamespace(adv_no="b", side="BUY")]
    orders = [order("s", "100", 4), order("s", "50", 6), order("s", "30", 2),
              order("x", "999", 4), order("b", "20", 1)]
    sell, buy = fidelity.truth_of(report(s="100"), orders, ads)
    assert (sell.orders, sell.opened, sell.cancelled, sell.kept, sell.completed) == (
        3, D("180"), D("50"), D("130"), D("100"))
    assert (buy.side, buy.kept, buy.completed) == ("BUY", D("20"), D("0"))


def env(seq, event, cause=None):
    return Envelope(session=1, seq=seq, ts_ms=0, t=float(seq), source="x", cause=cause,
                    event=event)


def test_live_counts_show_the_snapshots_the_actor_skipped_while_a_reprice_was_in_flight():
    book = BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, ads=())
    decide = RepriceDecided(adv_no="s", strategy="undercut", action="reprice",
                            old_price=D("1"), new_price=D("2"), rule="undercut", reason="")
    counts = fidelity.live_counts([
        env(1, book), env(2, decide, cause=1), env(3, book),  # 3: busy, no decision
        env(4, AdRepriced(adv_no="s", old_price=D("1"), new_price=D("2")), cause=2),
    ])
    assert counts["SELL"] == fidelity.LiveCounts(snapshots=2, decisions=1, reprices_decided=1,
                                                 repriced=1)
    assert counts["BUY"] == fidelity.LiveCounts()


def test_a_ratio_within_20_percent_meets_the_target_and_no_truth_gives_no_ratio():
    assert fidelity.ratio(D("90"), D("100")) == D("0.900")
    assert fidelity.within(D("0.800")) and fidelity.within(D("1.200"))
    assert not fidelity.within(D("1.201")) and not fidelity.within(None)
    assert fidelity.ratio(D("5"), D("0")) is None


def test_the_report_lists_each_ad_the_total_and_flags_misses():
    truths = [fidelity.AdTruth(adv_no="s", side="SELL", orders=2, opened=D("100"),
                               completed=D("80")),
              fidelity.AdTruth(adv_no="b", side="BUY", orders=1, opened=D("50"),
                               cancelled=D("50"))]
    result = SimpleNamespace(sell_volume=D("110"), buy_volume=D("0"),
                             summary=SimpleNamespace(reprices=4))
    blind = SimpleNamespace(sell_volume=D("60"), buy_volume=D("45"))
    args = fidelity.parse_args(["--minutes", "5"])
    text = fidelity.render(args, 1, "f.db", truths, (result, blind),
                           DecisionCheck(total=3, same=3),
                           {"SELL": fidelity.LiveCounts(), "BUY": fidelity.LiveCounts()},
                           report(s="80"))
    lines = text.splitlines()
    assert lines[3].split() == ["s", "SELL", "2", "110.00", "100.00", "1.100", "100.00", "1.100",
                                "80.00", "1.375", "(!)", "60.00", "0.600", "(!)"]
    assert lines[4].split() == ["b", "BUY", "1", "0.00", "50.00", "0.000", "(!)", "0.00", "-",
                                "0.00", "-", "45.00", "0.900"]
    assert lines[5].split()[:6] == ["total", "3", "110.00", "150.00", "0.733", "(!)"]
    assert "reprices: backtest 4, simulator accepted 4 (ratio 1.000)" in text
    assert "re-decided identically: 3/3 (100.0%)" in text
    assert fidelity.command(args).endswith(
        "bench/fidelity.py --minutes 5 --strategy undercut --seed 7")


def test_a_blind_tape_hides_my_ads_from_every_book_and_keeps_the_rest():
    mine = BookAd(adv_no="me", price=D("1"), surplus=D("1"), min_amount=D("0"),
                  max_amount=D("9"), mine=True)
    theirs = msgspec.structs.replace(mine, adv_no="x", mine=False)
    book = BookSnapshot(asset="USDT", fiat="NGN", ad_side="SELL", pages=1, ads=(mine, theirs))
    other = AdRepriced(adv_no="me", old_price=D("1"), new_price=D("2"))
    tape = SessionTape(session=1, envelopes=[env(1, book), env(2, other)])
    blind = fidelity.blind(tape)
    assert [e.event.ads for e in blind.envelopes[:1]] == [(theirs,)]
    assert blind.envelopes[1] == env(2, other)


def test_counterfactual_truth_volume_count_and_realised_spread():
    from backtest import counterfactual as cf

    ads = [SimpleNamespace(adv_no="s"), SimpleNamespace(adv_no="b")]
    orders = [SimpleNamespace(adv_no="s", side="SELL", amount=D("2"), price=D("1010")),
              SimpleNamespace(adv_no="b", side="BUY", amount=D("1"), price=D("990")),
              SimpleNamespace(adv_no="x", side="BUY", amount=D("9"), price=D("1"))]
    # matched 1 USDT: sold at 1010, bought at 990
    assert cf.truth_of(orders, ads) == cf.Outcome(volume=D("3"), fills=D("2"), pnl=D("20.00"))


def test_counterfactual_lines_flag_pairs_off_target_and_headline_the_off_diagonal():
    from backtest import counterfactual as cf

    def pair(a, b, vols):
        return cf.PairFigures(recorded=a, backtested=b, volume=tuple(map(D, vols)),
                              fills=(D("1"),), pnl=(D("0.9"), D("1.1")))
    same, good, bad = (pair("rank", "rank", ["2", "2"]), pair("undercut", "rank", ["0.9", "1.1"]),
                       pair("spread", "rank", ["1.3", "1.4"]))
    assert cf.pair_line(same).endswith("[diagonal: self-referential]")
    assert "volume median 1.000 (min 0.900, max 1.100)" in cf.pair_line(good)
    assert not cf.pair_line(good).endswith("(!)") and cf.pair_line(bad).endswith("(!)")
    assert cf.overall_line([same, good, bad]) == (
        "counterfactual fidelity: volume median 1.200 (min 1.000, max 1.350), pnl median 1.000")
