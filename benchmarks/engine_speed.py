"""The default `compare` grid trained one model at a time (`--engine loop`) and stacked
(`--engine fused`), in the same run: wall time, the training part and peak memory.

Cases: synthetic tables of N rows x 20 features at 1 : 40 imbalance (a signal in the
first five features), and the README's `balanceflow compare` on the shipped flare-F.
Every case runs in a fresh process (TensorFlow start-up included, as a user sees it);
engines alternate within each round, and the script prints every figure, the median per
case and the ratio of medians (loop / fused).

    python benchmarks/engine_speed.py [--rows 10000 100000] [--engines loop fused]
                                      [--rounds 1] [--epochs auto|30] [--no-flare]

``--epochs auto`` (the default) is the default recipe: an epoch budget and batch size
from the table's size, with early stopping; ``--epochs 30`` trains 30 epochs of 64 rows,
the recipe of the first measurements. The loop engine at 100,000 rows takes tens of
minutes on 2 cores; give ``--engines fused`` to time the fused engine alone there, and
``--rows 1000000 --engines fused --no-flare`` for the million-row run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "balanceflow"


def synthetic(rows: int, seed: int = 0):
    """N x 20 features; about 1 positive per 41 rows, separable only in part."""
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 20)).astype(np.float32)
    score = X[:, :5].sum(axis=1) / np.sqrt(5) + rng.normal(scale=1.0, size=rows)
    y = (score > np.quantile(score, 1 - 1 / 41)).astype(int)
    return X, y


def one_case(rows: int, engine: str, epochs) -> None:
    """In a child process: one `compare` of the default grid; print its figures."""
    import balanceflow as bf

    X, y = synthetic(rows)
    marks: list[float] = []

    def progress(done, total, description):
        marks.append(time.perf_counter())

    start = time.perf_counter()
    # The engines alone: the baselines (scikit-learn, in this process, reported through
    # the same progress calls) would be inside the "training part" of both.
    result = bf.compare(
        X, y, epochs=epochs, engine=engine, progress=progress, baselines="none"
    )
    end = time.perf_counter()
    print(
        json.dumps(
            {
                "compare_s": end - start,
                "training_s": marks[-1] - marks[0],
                "engine": result.settings["engine"],
                "epochs": result.settings["epochs"],
                "batch_size": result.settings["batch_size"],
                "pr_auc": float(result.leaderboard("pr_auc")[("pr_auc", "mean")].max()),
            }
        )
    )


def run_child(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident MiB (the kernel's account of that child) and stdout."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(
                f"{' '.join(command)} failed:\n{err.read().decode()[-2000:]}"
            )
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["loop", "fused"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--epochs", type=lambda t: t if t == "auto" else int(t), default="auto"
    )
    parser.add_argument("--no-flare", action="store_true")
    parser.add_argument(
        "--one", nargs=2, metavar=("ROWS", "ENGINE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        one_case(int(args.one[0]), args.one[1], args.epochs)
        return
    cases = []
    for rows in args.rows:
        for engine in args.engines:
            command = [sys.executable, __file__, "--one", str(rows), engine]
            cases.append(
                (f"{rows:,} rows", engine, [*command, "--epochs", str(args.epochs)])
            )
    if not args.no_flare:
        for engine in args.engines:
            command = [str(BIN), "compare", "--engine", engine, "--format", "json"]
            cases.append(
                (
                    "README compare (flare-F)",
                    engine,
                    [*command, "--epochs", str(args.epochs)],
                )
            )
    figures: dict[tuple[str, str], list[dict]] = {}
    for round_ in range(args.rounds):
        for name, engine, command in cases:
            wall, peak, out = run_child(command)
            inner = (
                json.loads(out)
                if out.lstrip().startswith("{") and "compare_s" in out
                else {}
            )
            row = {"wall_s": wall, "peak_mib": peak, **inner}
            figures.setdefault((name, engine), []).append(row)
            extra = (
                f"  training {inner['training_s']:.1f} s  (up to {inner['epochs']} "
                f"epochs of {inner['batch_size']}; {inner['engine']})"
                if inner
                else ""
            )
            print(
                f"round {round_ + 1}: {name:<26} {engine:<6} wall {wall:7.1f} s  "
                f"peak {peak:6.0f} MiB{extra}",
                flush=True,
            )
    print()
    medians: dict[tuple[str, str], dict[str, float]] = {}
    for key, rows in figures.items():
        medians[key] = {
            figure: statistics.median(r[figure] for r in rows)
            for figure in ("wall_s", "peak_mib", "training_s")
            if all(figure in r for r in rows)
        }
        shown = ", ".join(f"{k} {v:.1f}" for k, v in medians[key].items())
        print(f"median {key[0]:<26} {key[1]:<6} {shown}")
    for name in dict.fromkeys(key[0] for key in figures):
        loop, fused = medians.get((name, "loop")), medians.get((name, "fused"))
        if loop and fused:
            ratios = ", ".join(
                f"{figure} {loop[figure] / fused[figure]:.1f}x"
                for figure in ("wall_s", "training_s")
                if figure in loop and figure in fused
            )
            print(f"loop / fused, {name}: {ratios}")


if __name__ == "__main__":
    main()
