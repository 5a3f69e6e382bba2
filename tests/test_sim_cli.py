"""`python run.py sim`: its options become the SimConfig, and it tells the user how to connect."""

from __future__ import annotations

import argparse
import socket

from sim import DEMO_API_KEY, DEMO_SECRET, SimExchange
from sim.cli import add_arguments, banner, config_from_args, main
from sim.server import SimServer


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_line_faults_reach_the_simulator_config():
    cfg = config_from_args(parse("--seed", "3", "--error-rate", "0.2", "--latency-ms", "40",
                                 "--drop-ws-every", "30", "--clock-skew-ms", "-2000",
                                 "--status-list-reject-share", "0.5"))
    assert cfg.seed == 3 and cfg.status_list_reject_share == 0.5
    assert (cfg.faults.error_rate, cfg.faults.latency_ms) == (0.2, 40)
    assert (cfg.faults.close_every_s, cfg.faults.clock_skew_ms) == (30.0, -2000)


def test_banner_gives_the_keys_and_the_bot_toml_lines_to_use():
    exchange = SimExchange(config_from_args(parse()), now_ms=lambda: 0)
    text = banner(SimServer(host="127.0.0.1", port=8080, base_url="http://127.0.0.1:8080"),
                  exchange)
    assert f"BINANCE_API_KEY={DEMO_API_KEY}" in text
    assert f"BINANCE_API_SECRET={DEMO_SECRET}" in text
    assert 'sapi_url = "http://127.0.0.1:8080"' in text
    assert 'bapi_url = "http://127.0.0.1:8080"' in text
    assert all(ad.adv_no in text for ad in exchange.bot_ads)


def test_a_port_already_taken_ends_with_status_1_and_one_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        status = main(parse("--port", str(taken.getsockname()[1])), now_ms=lambda: 0)
    assert status == 1
    assert capsys.readouterr().out.startswith("sim: cannot serve on 127.0.0.1:")
