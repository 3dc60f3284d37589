"""compare() resumes after a kill, and parallel backends give the serial results."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import balanceflow as bf
from balanceflow.exceptions import BalanceflowError, InvalidParameterError

SETTINGS = {
    "strategies": ["none", "over", "under"],
    "n_splits": 3,
    "epochs": 3,
    "seed": 1,
}
TRIALS = 3 * 3  # folds x trained strategies


def _data():
    return bf.datasets.load("new-thyroid1")


def _boards_equal(a, b):
    # Trials stacked in different groups agree up to float32 round-off; the calibration
    # metrics (Brier, log loss) are smooth in the probabilities and show it.
    pd.testing.assert_frame_equal(
        a.leaderboard(), b.leaderboard(), rtol=1e-5, atol=1e-7
    )


def test_killed_run_resumes_to_the_same_leaderboard(tmp_path):
    """Check that a run killed with SIGKILL after some trials, then rerun with the same
    --out, skips the finished trials and ends with the uninterrupted run's leaderboard."""
    out = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import time, balanceflow as bf
        X, y = bf.datasets.load("new-thyroid1")
        bf.compare(X, y, out={str(out)!r}, progress=lambda *a: time.sleep(0.4), **{SETTINGS!r})
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    store = out / "trials.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if store.exists() and store.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    written = store.read_text().count("\n")
    assert 3 <= written < TRIALS, "the run must be interrupted part-way for this test"

    calls = []
    X, y = _data()
    resumed = bf.compare(
        X, y, out=out, progress=lambda d, t, s: calls.append((d, s)), **SETTINGS
    )
    lines = [json.loads(line) for line in store.read_text().splitlines()]
    assert len(lines) == TRIALS  # nothing computed twice, nothing lost
    assert len({line["key"] for line in lines}) == TRIALS
    # The baselines report first; the trials' progress starts from the finished ones.
    trial_calls = [d for d, s in calls if not s.startswith("baseline")]
    assert trial_calls[0] == written
    _boards_equal(resumed, bf.compare(X, y, **SETTINGS))


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    X, y = _data()
    first = bf.compare(X, y, out=tmp_path, **SETTINGS)
    store = tmp_path / "trials.jsonl"
    lines = store.read_text().splitlines(keepends=True)
    store.write_text(
        "".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2]
    )  # crash mid-write
    again = bf.compare(X, y, out=tmp_path, **SETTINGS)
    assert len(store.read_text().splitlines()) == TRIALS
    _boards_equal(first, again)


def test_n_jobs_2_matches_serial_and_leaves_tensorflow_to_the_workers(run_script):
    """Check, in a fresh process, that --n-jobs 2 gives the serial run's probabilities and
    leaderboard, and that the parent process never started TensorFlow (the workers did)."""
    tf_in_parent, diff, same, trials = run_script(
        f"""
        import sys, numpy as np, balanceflow as bf
        if __name__ == "__main__":
            X, y = bf.datasets.load("new-thyroid1")
            parallel = bf.compare(X, y, n_jobs=2, **{SETTINGS!r})
            tf_in_parent = "tensorflow" in sys.modules
            serial = bf.compare(X, y, **{SETTINGS!r})
            diff = max(np.abs(parallel.proba[n] - serial.proba[n]).max() for n in serial.strategies)
            # Equal up to float32 round-off (the calibration metrics are smooth in it).
            a, b = serial.leaderboard(), parallel.leaderboard()
            same = list(a.index) == list(b.index) and np.allclose(
                a.to_numpy(float), b.to_numpy(float), rtol=1e-5, atol=1e-7, equal_nan=True
            )
            keras = ~parallel.records["strategy"].isin(parallel.baselines)
            print("RESULT", tf_in_parent, diff, same, int(keras.sum()))
        """,
    )
    assert tf_in_parent == "False"
    assert float(diff) <= 1e-5
    assert same == "True"
    assert int(trials) == TRIALS


def test_dask_local_cluster_matches_serial(run_script):
    """Check a Dask LocalCluster on 127.0.0.1 with 2 workers against the serial run, in a
    fresh process. Dask workers draw from Python's global `random` in background threads
    while a task runs; the initial weights must not depend on it. Equal probabilities
    for every row and strategy, and one record per trial, mean every trial ran there."""
    pytest.importorskip("distributed")
    diff, same, trials = run_script(
        f"""
        import numpy as np, balanceflow as bf, distributed
        if __name__ == "__main__":
            X, y = bf.datasets.load("new-thyroid1")
            serial = bf.compare(X, y, **{SETTINGS!r})
            with distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
            ) as cluster:
                remote = bf.compare(X, y, scheduler=cluster.scheduler_address, **{SETTINGS!r})
            diff = max(np.abs(remote.proba[n] - serial.proba[n]).max() for n in serial.strategies)
            a, b = serial.leaderboard(), remote.leaderboard()
            same = list(a.index) == list(b.index) and np.allclose(
                a.to_numpy(float), b.to_numpy(float), rtol=1e-5, atol=1e-7, equal_nan=True
            )
            trials = int((~remote.records["strategy"].isin(remote.baselines)).sum())
            print("RESULT", diff, same, trials)
        """,
    )
    assert float(diff) <= 1e-6
    assert same == "True"
    assert int(trials) == TRIALS


def test_unreachable_scheduler_fails_fast_and_names_it():
    X, y = _data()
    start = time.monotonic()
    with pytest.raises(BalanceflowError, match=r"tcp://127.0.0.1:9"):
        bf.compare(X, y, scheduler="tcp://127.0.0.1:9", **SETTINGS)
    assert time.monotonic() - start < 20


def test_output_directory_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="not writable"):
        bf.compare(X, y, out=blocker / "run", **SETTINGS)
