"""Every runner gives the serial results; fit_best on a Dask cluster equals the serial fit.

Worker pools and the Dask cluster run in one fresh process of their own (``fresh_run``).
"""

import numpy as np
import pytest

from balanceflow.exceptions import InvalidParameterError
from balanceflow.training import DaskRunner, ProcessRunner, SerialRunner, get_runner

TRIALS_SCRIPT = """
import numpy as np, distributed
from balanceflow.strategies import get
from balanceflow.training import (
    DaskRunner, ProcessRunner, Recipe, SerialRunner, Trial, TrialData,
)

if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype("float32")
    y = (X[:, 0] + 0.3 * rng.normal(size=120) > 1.0).astype(int)
    data = TrialData(features=X, codes=y, n_classes=2)
    recipe = Recipe(epochs=2, batch_size=16, seed=0)
    names = ["none", "class_weight", "over", "under_epochwise", "focal", "ldam_drw"]
    trials = [
        Trial(get(n), np.arange(90), np.arange(90, 120), seed=i, init_seed=i % 2,
              keep_model=(i == 0), tag=i)
        for i, n in enumerate(names)
    ]

    def collect(runner):
        return {r.tag: r for r in runner.run(data, recipe, trials)}

    import pandas as pd
    import balanceflow as bf
    from balanceflow.model_selection import fit_best

    Xt, yt = bf.datasets.load("new-thyroid1")
    Xt = pd.DataFrame(np.asarray(Xt), columns=[f"f{i}" for i in range(Xt.shape[1])])
    fit_settings = dict(candidates=["none", "over", "ldam_drw"], n_splits=2, epochs=2, bag=1)

    serial = collect(SerialRunner())
    serial_fit = fit_best(Xt, yt, **fit_settings)
    others = {"process": collect(ProcessRunner(2))}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        others["dask"] = collect(DaskRunner(cluster.scheduler_address))
        remote_fit = fit_best(Xt, yt, scheduler=cluster.scheduler_address, **fit_settings)
    fit_words = [
        serial_fit.card["strategy"], remote_fit.card["strategy"],
        str(serial_fit.threshold), str(remote_fit.threshold),
        str(np.abs(serial_fit.predict_proba(Xt) - remote_fit.predict_proba(Xt)).max()),
        str(np.abs(serial_fit.oof_proba - remote_fit.oof_proba).max()),
        str(serial_fit.card["final_model"]["models"]),
    ]
    print("FIT", *fit_words)
    words = []
    for name, results in others.items():
        assert sorted(results) == sorted(serial), name
        proba = max(np.abs(results[t].proba - serial[t].proba).max() for t in serial)
        weights = max(
            np.abs(a - b).max() for a, b in zip(results[0].weights, serial[0].weights)
        )
        words += [name, str(proba), str(weights)]
    print("RESULT", *words)
    engines = {name: sorted({r.engine for r in rs.values()}) for name, rs in others.items()}
    engines["serial"] = sorted({r.engine for r in serial.values()})
    print("ENGINES", *(f"{k}={'+'.join(v)}" for k, v in sorted(engines.items())))
"""


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory):
    """One fresh process, one LocalCluster: the runner check and the fit_best check."""
    pytest.importorskip("distributed")
    import subprocess
    import sys
    import textwrap

    path = tmp_path_factory.mktemp("runners") / "check.py"
    path.write_text(textwrap.dedent(TRIALS_SCRIPT))
    out = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = {
        line.split()[0]: line.split()[1:] for line in out.stdout.splitlines() if line
    }
    assert "RESULT" in lines and "FIT" in lines, out.stderr[-3000:]
    return lines


def test_every_runner_gives_the_serial_results(fresh_run):
    """Check worker processes and a Dask LocalCluster (127.0.0.1, 2 workers) against the
    serial runner on the same trials: plain, weighted, resampled, epoch-wise and loss
    strategies, and the weights of a kept model, all trained by the fused engine (one
    stacked group in this process, one per worker there)."""
    words = fresh_run["RESULT"]
    results = dict(zip(words[0::3], zip(words[1::3], words[2::3])))
    assert set(results) == {"process", "dask"}
    for proba, weights in results.values():
        assert float(proba) <= 1e-5
        assert float(weights) <= 1e-5
    # The default engine stacked them everywhere: one group here, one per worker there.
    assert fresh_run["ENGINES"] == ["dask=fused", "process=fused", "serial=fused"]


def test_fit_best_on_a_dask_cluster_equals_the_serial_fit(fresh_run):
    """Check that fit_best with a Dask scheduler (LocalCluster on 127.0.0.1, 2 workers)
    chooses the same strategy, tunes the same threshold and ships the same model as the
    serial fit: its selection and its bag are trials of the same runner."""
    chosen, chosen_remote, cut, cut_remote, diff, oof, models = fresh_run["FIT"]
    assert chosen == chosen_remote
    assert float(cut) == pytest.approx(float(cut_remote), abs=1e-6)
    assert float(diff) <= 1e-5 and float(oof) <= 1e-5
    assert int(models) >= 3  # a bag of 1 draw on 2 folds and all rows, per member


def test_get_runner_picks_the_runner_and_rejects_bad_options():
    assert isinstance(get_runner(), SerialRunner)
    assert isinstance(get_runner(n_jobs=2), ProcessRunner)
    assert isinstance(get_runner(scheduler="tcp://127.0.0.1:8786"), DaskRunner)
    for bad in (0, -5, 1.5, True, "2"):
        with pytest.raises(InvalidParameterError, match=r"n_jobs"):
            get_runner(n_jobs=bad)
    for bad in ("127.0.0.1:8786", "tcp://", "http://x y", 8786):
        with pytest.raises(InvalidParameterError, match=r"scheduler"):
            get_runner(scheduler=bad)
    with pytest.raises(InvalidParameterError, match="not both"):
        get_runner(n_jobs=2, scheduler="tcp://127.0.0.1:8786")


def test_serial_runner_yields_every_trial_once_in_order():
    """Check the serial runner's order and tags on a tiny run."""
    from balanceflow.strategies import get
    from balanceflow.training import Recipe, Trial, TrialData

    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 2)).astype("float32")
    y = (X[:, 0] > 0.8).astype(int)
    data = TrialData(features=X, codes=y, n_classes=2)
    trials = [
        Trial(get("none"), None, np.arange(5), seed=s, init_seed=0, tag=s)
        for s in range(3)
    ]
    tags = [r.tag for r in SerialRunner().run(data, Recipe(epochs=1), trials)]
    assert tags == [0, 1, 2]
