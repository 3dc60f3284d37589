"""Speed and memory of balanceflow's balanced pipelines against plain and baseline pipelines.

Every figure is measured in the same run, against the plain pipeline of that run:

- fit samples/s (``model.fit`` on a Dense(64)-Dense(1) MLP) and pipeline-only samples/s (one
  pass over the dataset, no model) for: plain ``from_tensor_slices().shuffle(10k).batch()``,
  an unbalanced index gather (``tf.gather`` of whole batches of a per-epoch permutation),
  written with AUTOTUNE and again with tf.data's autotuning off, as balanceflow's pipelines
  run (on one core autotuning cost up to half the fit throughput), balanceflow's
  ``under`` / ``over`` / ``interpolate``, imbalanced-learn's ``BalancedBatchGenerator``,
  ``sample_from_datasets`` over per-class streams, ``rejection_resample`` (on a few
  thousand rows) and concatenated over-sampling. Cases run interleaved, ``--repeats`` times;
  the report gives the median and the best run, and the median of the per-repeat ratios to
  the plain pipeline and to the faster index gather of the same repeat. Fit speeds on a
  pinned core come in modes (x1, x1/2, x1/4) picked per run: compare medians of paired
  repeats, never one pair.
- the same fit speeds paired epoch by epoch (``paired`` section): the index gather and
  balanceflow's three pipelines are built once, in one process, and their epochs alternate,
  so that every ratio compares epochs run back to back under the same mode.
- peak RSS per case, each in a fresh process: the RSS once TensorFlow is imported and X is
  loaded, and the peak during one epoch of fit (building the pipeline and the model
  included), on the speed workload and on a wide one (``--rss-rows`` x ``--rss-features``).
- ``balance()`` on a file-backed, sharded stream (``tf.data.Dataset.save`` shards) against
  the same stream unbalanced.

Usage::

    python benchmarks/pipeline_speed.py                    # the full workload (1M x 32, 100k x 3072)
    python benchmarks/pipeline_speed.py --rows 100000 --rss-rows 10000 --repeats 2  # quick

By default the process (and its children) is pinned to one CPU core, as in the issue's
measurements; ``--cores 0`` leaves the affinity alone.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np

BATCH = 1024
MINORITY = 0.01

SPEED_CASES = (
    "plain",
    "index_gather",
    "index_gather_noauto",
    "bf_under",
    "bf_over",
    "bf_interpolate",
    "imblearn_bbg",
    "sample_from_datasets",
    "rejection_resample",
    "concat_over",
)
RSS_WIDE_CASES = ("plain", "bf_under", "bf_over", "bf_interpolate", "concat_over")
REJECTION_ROWS = 5_000


# -- data and models -----------------------------------------------------------------------


def make_data(rows: int, features: int, seed: int = 0):
    """Float32 features made in place (no float64 transient) and a 1% minority."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    y = (rng.random(rows) < MINORITY).astype(np.int32)
    X[y == 1, :4] += 1.0  # a little signal
    return X, y


def make_model(features: int):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


# -- pipelines -----------------------------------------------------------------------------


def build(case: str, X: np.ndarray, y: np.ndarray):
    """``(dataset or PyDataset, rows per epoch, note)`` for one case."""
    import tensorflow as tf

    from balanceflow.data import balanced_dataset
    from balanceflow.sampling import RandomOverSampler

    n = len(y)
    n_min = int(y.sum())
    n_maj = n - n_min
    autotune = tf.data.AUTOTUNE
    if case == "plain":
        ds = tf.data.Dataset.from_tensor_slices((X, y)).shuffle(10_000).batch(BATCH)
        return ds.prefetch(autotune), n, ""
    if case in ("index_gather", "index_gather_noauto"):
        # Whole batches gathered by index from one tensor copy of X; a new permutation
        # each epoch, made in one op (the last partial batch is dropped).
        X_t, y_t = tf.constant(X), tf.constant(y)
        n_batches = n // BATCH

        def epoch_batches(_):
            perm = tf.random.shuffle(tf.range(n))[: n_batches * BATCH]
            return tf.data.Dataset.from_tensor_slices(tf.reshape(perm, (-1, BATCH)))

        def gather(idx):
            return tf.gather(X_t, idx), tf.gather(y_t, idx)

        ds = tf.data.Dataset.range(1).flat_map(epoch_batches)
        if case == "index_gather":
            ds = ds.map(gather, num_parallel_calls=autotune).prefetch(autotune)
            note = "tf.gather, permuted batches"
        else:  # the same with tf.data's autotuning off, as balanceflow's pipelines run
            options = tf.data.Options()
            options.autotune.enabled = False
            ds = ds.map(gather).prefetch(8).with_options(options)
            note = "the same, autotune off, prefetch 8"
        ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))
        return ds, n_batches * BATCH, note
    if case == "bf_under":
        draws = max(1, round(n / (2 * n_min)))
        ds = balanced_dataset(
            X, y, batch_size=BATCH, method="under", draws_per_epoch=draws
        )
        return ds, draws * 2 * n_min, f"draws_per_epoch={draws}"
    if case == "bf_over":
        return balanced_dataset(X, y, batch_size=BATCH, method="over"), 2 * n_maj, ""
    if case == "bf_interpolate":
        ds = balanced_dataset(X, y, batch_size=BATCH, method="interpolate")
        return ds, 2 * n_maj, "k_neighbors=5"
    if case == "imblearn_bbg":
        from imblearn.keras import BalancedBatchGenerator

        gen = BalancedBatchGenerator(X, y, batch_size=BATCH, random_state=0)
        return gen, len(gen) * BATCH, "one under-sample, drawn once"
    if case == "sample_from_datasets":
        streams = [
            tf.data.Dataset.from_tensor_slices((X[y == c], y[y == c]))
            .shuffle(10_000)
            .repeat()
            for c in (0, 1)
        ]
        n_batches = min(-(-n // BATCH), 100)
        ds = (
            tf.data.Dataset.sample_from_datasets(streams, [0.5, 0.5], seed=0)
            .batch(BATCH)
            .take(n_batches)
        )
        return ds.prefetch(autotune), n_batches * BATCH, f"{n_batches} batches"
    if case == "rejection_resample":
        small_X, small_y = X[:REJECTION_ROWS], y[:REJECTION_ROWS]
        p1 = max(float(small_y.mean()), 1e-3)
        n_batches = 1
        ds = (
            tf.data.Dataset.from_tensor_slices((small_X, small_y))
            .repeat()
            .rejection_resample(
                lambda x, label: label,
                target_dist=[0.5, 0.5],
                initial_dist=[1 - p1, p1],
                seed=0,
            )
            .map(lambda label, xy: xy)
            .batch(BATCH)
            .take(n_batches)
        )
        return ds, n_batches * BATCH, f"on {REJECTION_ROWS} rows, {n_batches} batches"
    if case == "concat_over":
        X_res, y_res = RandomOverSampler(seed=0).fit_resample(X, y)
        ds = tf.data.Dataset.from_tensor_slices((X_res, y_res)).shuffle(10_000)
        return (
            ds.batch(BATCH).prefetch(autotune),
            len(y_res),
            "numpy copy, then tf.data",
        )
    raise ValueError(case)


def iterate_once(ds) -> None:
    if hasattr(ds, "__getitem__") and hasattr(ds, "__len__"):  # a PyDataset
        for i in range(len(ds)):
            ds[i]
        ds.on_epoch_end()
    else:
        for _ in ds:
            pass


# -- speed ---------------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 (rejection_resample prints its rejection rate per batch)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def measure_speed(case: str, X, y, epochs: int) -> dict:
    if case == "rejection_resample":
        with quiet_stderr():
            return _measure_speed(case, X, y, epochs)
    return _measure_speed(case, X, y, epochs)


def _measure_speed(case: str, X, y, epochs: int) -> dict:
    ds, rows, note = build(case, X, y)
    model = make_model(X.shape[1])
    fit_epochs = epochs
    if case in ("imblearn_bbg",):
        fit_epochs = -(-len(y) // rows) * epochs  # its epochs are short: about n rows
    model.fit(ds, epochs=1, verbose=0)  # warm up: tracing, caches, thread pools
    start = time.perf_counter()
    model.fit(ds, epochs=fit_epochs, verbose=0)
    fit_rate = fit_epochs * rows / (time.perf_counter() - start)
    start = time.perf_counter()
    iterate_once(ds)
    pipe_rate = rows / (time.perf_counter() - start)
    del ds, model
    gc.collect()
    return {"fit": fit_rate, "pipeline": pipe_rate, "rows": rows, "note": note}


def speed_section(args) -> dict:
    import tensorflow as tf  # noqa: F401

    X, y = make_data(args.rows, args.features)
    print(
        f"\n== Speed: {args.rows:,} x {args.features} float32, {MINORITY:.0%} minority, "
        f"batch {BATCH}, Dense(64)-Dense(1), {args.repeats} interleaved repeats, "
        f"{args.epochs} timed fit epochs after 1 warm-up =="
    )
    cases = [c for c in SPEED_CASES if c not in args.skip]
    runs: dict[str, list[dict]] = {c: [] for c in cases}
    for repeat in range(args.repeats):
        for case in cases:
            result = measure_speed(case, X, y, args.epochs)
            runs[case].append(result)
            print(
                f"  repeat {repeat + 1} {case:22s} fit {result['fit'] / 1e3:8.1f}k/s   "
                f"pipeline {result['pipeline'] / 1e3:9.1f}k/s",
                flush=True,
            )
    print(
        f"\n  {'case':22s} {'fit median':>11s} {'fit best':>9s} {'x plain':>8s} "
        f"{'x gather*':>9s}   {'pipe median':>11s} {'pipe best':>9s} {'x plain':>8s}  note"
    )
    summary = {}
    for case in cases:
        fits = [r["fit"] for r in runs[case]]
        pipes = [r["pipeline"] for r in runs[case]]
        paired = {}
        if "plain" in runs:
            paired["plain"] = statistics.median(
                r["fit"] / b["fit"] for r, b in zip(runs[case], runs["plain"])
            )
        gathers = [g for g in ("index_gather", "index_gather_noauto") if g in runs]
        if gathers:  # against the faster index gather of the same repeat
            paired["index_gather"] = statistics.median(
                run["fit"] / max(runs[g][i]["fit"] for g in gathers)
                for i, run in enumerate(runs[case])
            )
        pipe_plain = (
            statistics.median(
                r["pipeline"] / b["pipeline"] for r, b in zip(runs[case], runs["plain"])
            )
            if "plain" in runs
            else float("nan")
        )
        summary[case] = {
            "fit_median": statistics.median(fits),
            "fit_best": max(fits),
            "pipe_median": statistics.median(pipes),
            "pipe_best": max(pipes),
            "fit_x_plain": paired.get("plain", float("nan")),
            "fit_x_gather": paired.get("index_gather", float("nan")),
            "pipe_x_plain": pipe_plain,
        }
        s = summary[case]
        print(
            f"  {case:22s} {s['fit_median'] / 1e3:10.1f}k {s['fit_best'] / 1e3:8.1f}k "
            f"{s['fit_x_plain']:8.2f} {s['fit_x_gather']:9.2f}   "
            f"{s['pipe_median'] / 1e3:10.1f}k {s['pipe_best'] / 1e3:8.1f}k "
            f"{s['pipe_x_plain']:8.2f}  {runs[case][0]['note']}"
        )
    print(
        "  x plain, x gather*: median over repeats of the ratio to the plain pipeline, and "
        "to the faster of the two index gathers, of the same repeat"
    )
    return summary


PAIRED_CASES = ("index_gather_noauto", "bf_under", "bf_over", "bf_interpolate")


def paired_section(args) -> dict:
    """Fit speed of each pipeline against the index gather, epochs alternated in one process."""
    X, y = make_data(args.rows, args.features)
    print(
        f"\n== Paired epochs: {args.rows:,} x {args.features}, the cases built once and their "
        f"epochs alternated, {args.paired_rounds} rounds after 1 warm-up epoch each =="
    )
    built = {case: build(case, X, y) for case in PAIRED_CASES}
    models = {case: make_model(X.shape[1]) for case in PAIRED_CASES}
    for case in PAIRED_CASES:
        models[case].fit(built[case][0], epochs=1, verbose=0)
    rates: dict[str, list[float]] = {case: [] for case in PAIRED_CASES}
    for _ in range(args.paired_rounds):
        for case in PAIRED_CASES:
            ds, rows, _ = built[case]
            start = time.perf_counter()
            models[case].fit(ds, epochs=1, verbose=0)
            rates[case].append(rows / (time.perf_counter() - start))
    base = rates[PAIRED_CASES[0]]
    summary = {}
    print(f"  {'case':22s} {'fit median':>11s} {'x gather':>9s}   every round (k/s)")
    for case in PAIRED_CASES:
        ratio = statistics.median(r / b for r, b in zip(rates[case], base))
        summary[case] = {
            "fit_median": statistics.median(rates[case]),
            "x_gather": ratio,
        }
        print(
            f"  {case:22s} {summary[case]['fit_median'] / 1e3:10.1f}k {ratio:9.2f}   "
            + " ".join(f"{r / 1e3:.0f}" for r in rates[case])
        )
    print(
        "  x gather: median over rounds of the ratio to the index gather's epoch of the round"
    )
    return summary


# -- balance() on a file-backed stream -----------------------------------------------------


def stream_section(args) -> dict:
    import tensorflow as tf

    from balanceflow.data import balance

    X, y = make_data(args.stream_rows, args.features, seed=1)
    counts = {0: int((y == 0).sum()), 1: int((y == 1).sum())}
    print(
        f"\n== balance() on a file-backed stream: {args.stream_rows:,} x {args.features} "
        f"in 8 tf.data.Dataset.save shards, batch {BATCH} =="
    )
    with tempfile.TemporaryDirectory(dir=args.tmp) as folder:
        path = os.path.join(folder, "rows")
        tf.data.Dataset.from_tensor_slices((X, y)).enumerate().map(
            lambda i, xy: (i, xy)
        ).save(path, shard_func=lambda i, xy: i % 8)
        del X, y
        gc.collect()

        def rows():
            return tf.data.Dataset.load(path).map(lambda i, xy: xy)

        def plain():
            return rows().batch(BATCH).prefetch(tf.data.AUTOTUNE), sum(counts.values())

        def balanced():
            ds = balance(rows(), class_counts=counts, batch_size=BATCH, seed=0)
            return ds, int(ds.cardinality()) * BATCH

        runs: dict[str, list[dict]] = {"stream_plain": [], "stream_balanced": []}
        for repeat in range(args.stream_repeats):
            for name, make in (("stream_plain", plain), ("stream_balanced", balanced)):
                ds, n_rows = make()
                start = time.perf_counter()
                iterate_once(ds)
                cold = n_rows / (time.perf_counter() - start)
                start = time.perf_counter()
                iterate_once(ds)
                warm = n_rows / (time.perf_counter() - start)
                model = make_model(args.features)
                model.fit(ds, epochs=1, verbose=0)
                start = time.perf_counter()
                model.fit(ds, epochs=args.epochs, verbose=0)
                fit = args.epochs * n_rows / (time.perf_counter() - start)
                runs[name].append({"cold": cold, "warm": warm, "fit": fit})
                print(
                    f"  repeat {repeat + 1} {name:16s} first pass {cold / 1e3:8.1f}k/s  "
                    f"later pass {warm / 1e3:8.1f}k/s  fit {fit / 1e3:8.1f}k/s",
                    flush=True,
                )
                del ds, model
                gc.collect()
    result = {}
    for key in ("cold", "warm", "fit"):
        ratios = [
            b[key] / p[key]
            for b, p in zip(runs["stream_balanced"], runs["stream_plain"])
        ]
        result[key] = statistics.median(ratios)
    print(
        f"  balanced / unbalanced (median of paired repeats): first pass "
        f"{result['cold']:.2f}x, later passes {result['warm']:.2f}x, fit {result['fit']:.2f}x"
    )
    return result


# -- peak RSS ------------------------------------------------------------------------------


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def rss_child(case: str, rows: int, features: int) -> None:
    """Run in a fresh process: RSS after import + load, then the peak over one fit epoch."""
    import tensorflow as tf  # noqa: F401

    import balanceflow.data  # noqa: F401

    X, y = make_data(rows, features)
    gc.collect()
    baseline = _status("VmRSS")
    try:  # reset the peak to the current RSS, so the peak covers the fit only
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        reset = True
    except OSError:
        reset = False
    ds, _, _ = build(case, X, y)
    model = make_model(features)
    model.fit(ds, epochs=1, verbose=0)
    peak = _status("VmHWM")
    print(
        json.dumps(
            {
                "case": case,
                "baseline": baseline,
                "peak": peak,
                "x_bytes": X.nbytes,
                "reset": reset,
            }
        )
    )


def rss_section(args, rows: int, features: int, cases) -> dict:
    x_gib = rows * features * 4 / 2**30
    print(
        f"\n== Peak RSS, one epoch of fit, fresh process per case: {rows:,} x {features} "
        f"float32 (X = {x_gib:.2f} GiB) =="
    )
    print(
        f"  {'case':22s} {'after load':>11s} {'peak':>9s} {'peak - load':>12s} "
        f"{'(x X)':>7s} {'peak (x X)':>11s}"
    )
    out = {}
    for case in cases:
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--rss-child",
            case,
            "--rss-rows",
            str(rows),
            "--rss-features",
            str(features),
        ]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            print(f"  {case:22s} failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(lines[-1])
        x = r["x_bytes"]
        extra = (r["peak"] - r["baseline"]) / x
        out[case] = {"extra_x": extra, "peak_x": r["peak"] / x}
        print(
            f"  {case:22s} {r['baseline'] / 2**30:10.2f}G {r['peak'] / 2**30:8.2f}G "
            f"{(r['peak'] - r['baseline']) / 2**30:11.2f}G {extra:7.2f} "
            f"{r['peak'] / x:11.2f}" + ("" if r["reset"] else "  (peak not reset)")
        )
    return out


# -- targets -------------------------------------------------------------------------------


def report_targets(speed: dict, wide: dict, stream: dict, paired: dict) -> None:
    print("\n== Targets ==")

    def line(text: str, value: float, bound: float, above: bool = True) -> None:
        if np.isnan(value):  # not measured
            print(f"  [not run] {text}")
            return
        met = value >= bound if above else value <= bound
        sign = ">=" if above else "<="
        print(f"  [{'met' if met else 'NOT met'}] {text}: {value:.2f} ({sign} {bound})")

    nan = float("nan")
    for case in ("bf_over", "bf_under"):
        s = speed.get(case, {})
        line(f"{case} fit vs the faster index gather", s.get("fit_x_gather", nan), 0.95)
        line(f"{case} fit vs plain tf.data", s.get("fit_x_plain", nan), 2.0)
    line(
        "bf_interpolate fit vs the faster index gather",
        speed.get("bf_interpolate", {}).get("fit_x_gather", nan),
        0.8,
    )
    for case, bound in (("bf_over", 0.95), ("bf_under", 0.95), ("bf_interpolate", 0.8)):
        line(
            f"{case} fit vs the index gather, paired epochs",
            paired.get(case, {}).get("x_gather", nan),
            bound,
        )
    for case in ("bf_under", "bf_over", "bf_interpolate"):
        line(
            f"{case} wide case: (peak during fit - RSS after load) / X",
            wide.get(case, {}).get("extra_x", nan),
            0.3,
            above=False,
        )
    line("balance() fit vs the same stream unbalanced", stream.get("fit", nan), 0.8)
    line(
        "balance() later passes vs the same stream unbalanced (pipeline only)",
        stream.get("warm", nan),
        0.8,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--epochs", type=int, default=1, help="timed fit epochs per case"
    )
    parser.add_argument("--stream-repeats", type=int, default=2)
    parser.add_argument(
        "--paired-rounds", type=int, default=6, help="alternated epochs per paired case"
    )
    parser.add_argument("--rss-rows", type=int, default=100_000)
    parser.add_argument("--rss-features", type=int, default=3072)
    parser.add_argument("--stream-rows", type=int, default=200_000)
    parser.add_argument(
        "--cores", type=int, default=1, help="pin to N cores; 0: no pinning"
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], help="speed cases to leave out"
    )
    parser.add_argument(
        "--sections",
        nargs="*",
        default=["speed", "paired", "rss", "wide", "stream"],
        choices=["speed", "paired", "rss", "wide", "stream"],
    )
    parser.add_argument("--tmp", default=None, help="folder for the stream's shards")
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.rss_rows, args.rss_features)
        return
    if args.cores > 0 and hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(allowed[: args.cores]))
    print(
        f"pipeline_speed: cores used {sorted(os.sched_getaffinity(0))} of "
        f"{os.cpu_count()}, python {sys.version.split()[0]}"
    )
    speed = speed_section(args) if "speed" in args.sections else {}
    paired = paired_section(args) if "paired" in args.sections else {}
    if "rss" in args.sections:
        rss_section(
            args,
            args.rows,
            args.features,
            [c for c in SPEED_CASES if c not in args.skip],
        )
    wide = (
        rss_section(args, args.rss_rows, args.rss_features, RSS_WIDE_CASES)
        if "wide" in args.sections
        else {}
    )
    stream = stream_section(args) if "stream" in args.sections else {}
    report_targets(speed, wide, stream, paired)


if __name__ == "__main__":
    main()
