"""`clearance serve` for the benchmarks. `--stock-lock` keeps AsyncPostgresSaver's
per-instance lock, to measure Clearance with and without it in one run."""

from __future__ import annotations

import functools
import sys

from graph import checkpoint

if __name__ == "__main__":
    if "--stock-lock" in sys.argv:
        checkpoint.postgres_saver = functools.partial(checkpoint.postgres_saver, stock_lock=True)  # type: ignore
    from bot.cli import main

    sys.exit(main(["serve"]))
