"""`python run.py sim`: serve the simulator until Ctrl-C, then print what it measured.

Every behaviour of `SimConfig` and `Faults` has a flag; defaults are the realistic mix
(reference §11): strict signing, EP-7 `data:null`, weight headers, chat duplicates, some
non-merchant ads, 83628 on bursts, 187022 for offline ads, no random faults.

Market and account:
    --seed N (7) --user-share F (0.4) --aggressive-user-share F (0.5)
    --markets N (1): serve USDT/NGN, BTC/NGN, ETH/NGN, USDC/NGN (the first N), each with its
        own book, competitors, customers and the bot's two ads; one rate limit over all
    --status-list-reject-share F (0): EP-8 calls with a JSON list refused with -1102
Signing (reference §2):
    --unsigned-detail-answer {401-1002,400-1102,400-2014,401-2015} (401-1002)
    --recv-window-refusal {-1102,-1131} (-1102)
    --client-type-everywhere: require the clientType header on every SAPI call (off)
    --weight-headers {present,absent} (present): X-SAPI-USED-IP-WEIGHT-1M on SAPI successes
ads/update, EP-7 (reference §4, §7):
    --ep7-success {null,true,absent,mix} (null)
    --ep7-burst-limit N (5) --ep7-burst-window S (5) --ep7-cooldown S (30): 83628
    --order-race-window S (0.5): -9000/187049 after an order on the ad
    --offline-ad-update {187022,83229} (187022) --rest-mode-answer {83229,83230} (83229)
    --ep7-suspended S (0): 83723 for the first S seconds
Chat (reference §8):
    --chat-read-copy-share F (1) --chat-read-delay LOW HIGH (1 8) --chat-extra-copy-share F (0.1)
    --chat-empty-nickname-share F (0.72) --chat-nlp-share F (0.1) --chat-auto-reply TEXT
    --history-from-nickname (off) --keep-credential-on-close (off: a closed socket's
    credential is refused) --ws-ping-interval S (30) --ws-bad-frame-answer
    {ignore,illegal_param} (ignore)
Faults (all off):
    --error-rate F --error-kinds K,K (the reference mix) --public-error-rate F
    --public-error-kinds K,K (429; also 403, 418, 5xx) --latency-ms N --latency-spike-ms N
    --latency-spike-probability F --ws-close-every S (alias --drop-ws-every)
    --ws-close-kinds K,K (1000,1002,drop) --ws-illegal-param-probability F --clock-skew-ms N
"""

from __future__ import annotations

import argparse

import trio

from sim import config as choices
from sim.answers import KINDS
from sim.config import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig
from sim.exchange import SimExchange
from sim.server import SimServer, serve_sim

_DEFAULTS = SimConfig()


def _kinds(allowed: tuple[str, ...]):
    def parse(text: str) -> tuple[str, ...]:
        kinds = tuple(k.strip() for k in text.split(",") if k.strip())
        bad = [k for k in kinds if k not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(bad)}; use {', '.join(allowed)}")
        return kinds
    return parse


def _config_flags(p: argparse.ArgumentParser) -> None:
    d = _DEFAULTS
    p.add_argument("--user-share", type=float, default=d.user_share)
    p.add_argument("--aggressive-user-share", type=float, default=d.aggressive_user_share)
    p.add_argument("--status-list-reject-share", type=float, default=0.0,
                   help="0..1 of EP-8 calls with a JSON list of advNos refused with -1102")
    p.add_argument("--unsigned-detail-answer", choices=choices.UNSIGNED_ANSWERS,
                   default=d.unsigned_detail_answer)
    p.add_argument("--recv-window-refusal", choices=choices.RECV_WINDOW_REFUSALS,
                   default=d.recv_window_refusal)
    p.add_argument("--client-type-everywhere", action="store_true")
    p.add_argument("--weight-headers", choices=choices.WEIGHT_HEADERS, default=d.weight_headers)
    p.add_argument("--ep7-success", choices=choices.EP7_SUCCESS_SHAPES, default=d.ep7_success)
    p.add_argument("--ep7-burst-limit", type=int, default=d.ep7_burst_limit)
    p.add_argument("--ep7-burst-window", type=float, default=d.ep7_burst_window_s, metavar="S")
    p.add_argument("--ep7-cooldown", type=float, default=d.ep7_cooldown_s, metavar="S")
    p.add_argument("--order-race-window", type=float, default=d.order_race_window_s, metavar="S")
    p.add_argument("--offline-ad-update", choices=choices.OFFLINE_AD_ANSWERS,
                   default=d.offline_ad_update)
    p.add_argument("--rest-mode-answer", choices=choices.REST_MODE_ANSWERS,
                   default=d.rest_mode_answer)
    p.add_argument("--ep7-suspended", type=float, default=0.0, metavar="S")
    p.add_argument("--chat-read-copy-share", type=float, default=d.chat_read_copy_share)
    p.add_argument("--chat-read-delay", type=float, nargs=2, default=d.chat_read_delay_s,
                   metavar=("LOW", "HIGH"))
    p.add_argument("--chat-extra-copy-share", type=float, default=d.chat_extra_copy_share)
    p.add_argument("--chat-empty-nickname-share", type=float,
                   default=d.chat_empty_nickname_share)
    p.add_argument("--chat-nlp-share", type=float, default=d.chat_nlp_share)
    p.add_argument("--chat-auto-reply", default=d.chat_auto_reply, metavar="TEXT")
    p.add_argument("--history-from-nickname", action="store_true")
    p.add_argument("--keep-credential-on-close", action="store_true")
    p.add_argument("--ws-ping-interval", type=float, default=d.ws_ping_interval_s, metavar="S")
    p.add_argument("--ws-bad-frame-answer", choices=choices.BAD_FRAME_ANSWERS,
                   default=d.ws_bad_frame_answer)


def _fault_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--error-rate", type=float, default=0.0, help="0..1 of requests fail")
    p.add_argument("--error-kinds", type=_kinds(KINDS), default=(), metavar="K,K")
    p.add_argument("--public-error-rate", type=float, default=0.0, help="0..1 of EP-0 calls fail")
    p.add_argument("--public-error-kinds", type=_kinds(choices.PUBLIC_ERROR_KINDS),
                   default=("429",), metavar="K,K")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--latency-spike-ms", type=int, default=0)
    p.add_argument("--latency-spike-probability", type=float, default=0.0)
    p.add_argument("--ws-close-every", "--drop-ws-every", dest="ws_close_every", type=float,
                   default=0.0, metavar="S", help="close chat sockets S seconds after they open")
    p.add_argument("--ws-close-kinds", type=_kinds(choices.WS_CLOSE_KINDS),
                   default=choices.WS_CLOSE_KINDS, metavar="K,K")
    p.add_argument("--ws-illegal-param-probability", type=float, default=0.0)
    p.add_argument("--clock-skew-ms", type=int, default=0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to `parser` (listed in this module's docstring)."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--markets", type=int, default=1, choices=(1, 2, 3, 4),
                        help="markets served (USDT/NGN, BTC/NGN, ETH/NGN, USDC/NGN), one "
                             "account and one rate limit over all")
    _config_flags(parser)
    _fault_flags(parser)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """Build the SimConfig that the command line asks for."""
    faults = Faults(
        error_rate=args.error_rate, error_kinds=args.error_kinds,
        public_error_rate=args.public_error_rate, public_error_kinds=args.public_error_kinds,
        latency_ms=args.latency_ms, latency_spike_ms=args.latency_spike_ms,
        latency_spike_probability=args.latency_spike_probability,
        ws_close_every_s=args.ws_close_every, ws_close_kinds=args.ws_close_kinds,
        ws_illegal_param_probability=args.ws_illegal_param_probability,
        clock_skew_ms=args.clock_skew_ms,
    )
    return SimConfig(
        seed=args.seed, faults=faults, markets=choices.demo_markets(getattr(args, "markets", 1)),
        user_share=args.user_share,
        aggressive_user_share=args.aggressive_user_share,
        status_list_reject_share=args.status_list_reject_share,
        unsigned_detail_answer=args.unsigned_detail_answer,
        recv_window_refusal=args.recv_window_refusal,
        client_type_everywhere=args.client_type_everywhere, weight_headers=args.weight_headers,
        ep7_success=args.ep7_success, ep7_burst_limit=args.ep7_burst_limit,
        ep7_burst_window_s=args.ep7_burst_window, ep7_cooldown_s=args.ep7_cooldown,
        order_race_window_s=args.order_race_window, offline_ad_update=args.offline_ad_update,
        rest_mode_answer=args.rest_mode_answer, ep7_suspended_s=args.ep7_suspended,
        chat_read_copy_share=args.chat_read_copy_share,
        chat_read_delay_s=tuple(args.chat_read_delay),
        chat_extra_copy_share=args.chat_extra_copy_share,
        chat_empty_nickname_share=args.chat_empty_nickname_share,
        chat_nlp_share=args.chat_nlp_share, chat_auto_reply=args.chat_auto_reply,
        history_from_nickname=args.history_from_nickname,
        revoke_credential_on_close=not args.keep_credential_on_close,
        ws_ping_interval_s=args.ws_ping_interval, ws_bad_frame_answer=args.ws_bad_frame_answer,
    )


def banner(server: SimServer, exchange: SimExchange) -> str:
    """Return what to tell the user: where to point the bot and with which keys."""
    ads = ", ".join(f"{a.asset}/{a.fiat} {a.side} {a.adv_no}" for a in exchange.bot_ads)
    markets = ", ".join(f"{a}/{f}" for a, f in exchange.markets)
    return "\n".join([
        f"simulated Binance C2C on {server.base_url} ({markets},"
        f" seed {exchange.cfg.seed}); Ctrl-C stops it and prints the report",
        "environment for the bot (demo credentials, valid only here):",
        f"  export BINANCE_API_KEY={DEMO_API_KEY}",
        f"  export BINANCE_API_SECRET={DEMO_SECRET}",
        "bot.toml:",
        "  [exchange]",
        f'  sapi_url = "{server.base_url}"',
        f'  bapi_url = "{server.base_url}"',
        f"the bot's ads: {ads}",
        f"chat sockets (handed out by EP-33): {server.chat_url or '-'}",
    ])


async def _serve(exchange: SimExchange, host: str, port: int) -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(serve_sim, exchange, host, port)
        print(banner(server, exchange), flush=True)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def main(args: argparse.Namespace, *, now_ms) -> int:
    """Serve until interrupted, then print the report. Returns the exit status."""
    exchange = SimExchange(config_from_args(args), now_ms=now_ms)
    try:
        trio.run(_serve, exchange, args.host, args.port)
    except BaseException as exc:  # Ctrl-C and bind failures may arrive wrapped in groups
        leaves = _leaves(exc)
        if not all(isinstance(e, (KeyboardInterrupt, OSError)) for e in leaves):
            raise
        failed = [e for e in leaves if isinstance(e, OSError)]
        if failed:
            reason = failed[0].strerror or failed[0]
            print(f"sim: cannot serve on {args.host}:{args.port}: {reason}")
            return 1
    print(exchange.report().render())
    return 0
