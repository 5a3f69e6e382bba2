"""A simulated Binance C2C exchange served on loopback: a seeded living market, Binance's rules,
fault injection and the measurements only the exchange can make."""

from sim.config import DEMO_API_KEY, DEMO_SECRET, Faults, SimConfig, SimMarket
from sim.exchange import SimExchange
from sim.report import SimReport
from sim.server import SimServer, serve_sim

__all__ = [
    "DEMO_API_KEY",
    "DEMO_SECRET",
    "Faults",
    "SimConfig",
    "SimExchange",
    "SimMarket",
    "SimReport",
    "SimServer",
    "serve_sim",
]
