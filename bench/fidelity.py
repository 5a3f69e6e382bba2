"""Backtest fidelity against the simulator's truth: a thin runner over `backtest.fidelity`.

    .venv/bin/python bench/fidelity.py [--minutes 5] [--strategy undercut] [--seed 7] ...
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest.fidelity import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
