"""Wall time of the README's `balanceflow compare`, and the speed-up of --n-jobs 2.

Each case runs in a fresh process (TensorFlow start-up included, as a user sees it),
interleaved over several rounds; the script prints every time, the median per case and
the ratio of medians.

    python benchmarks/compare_speed.py [--rounds 3] [--epochs 30]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "balanceflow"


def run(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([str(BIN), *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--repeats", type=int, default=1, help="repeats of the K-fold grid"
    )
    args = parser.parse_args()
    grid = ["compare", "--epochs", str(args.epochs), "--repeats", str(args.repeats)]
    grid += ["--format", "json"]
    cases = {"serial": grid, "n_jobs=2": [*grid, "--n-jobs", "2"]}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(args.rounds):
        for name, case in cases.items():
            seconds = run(case)
            times[name].append(seconds)
            print(f"round {round_ + 1}: {name:<9} {seconds:6.1f} s", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(
            f"median {name:<9} {value:6.1f} s  (all: {', '.join(f'{t:.1f}' for t in times[name])})"
        )
    print(
        f"speed-up of --n-jobs 2 over serial (ratio of medians): "
        f"{medians['serial'] / medians['n_jobs=2']:.2f}x"
    )


if __name__ == "__main__":
    main()
