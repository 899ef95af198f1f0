"""`make bench`: run every bench/bench_*.py (or those named: `python -m bench startup`)."""

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    wanted = sys.argv[1:]
    names = sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if info.name.startswith("bench_")
    )
    for name in names:
        if wanted and name not in wanted:
            continue
        print(f"\n== {name} ==", flush=True)
        importlib.import_module(f"bench.bench_{name}").main()


if __name__ == "__main__":
    main()
