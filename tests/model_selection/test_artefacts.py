"""Saved models: the card travels inside the .keras file, damaged files give one clear
error, and a save killed at any moment leaves the old model or the new one, whole."""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import balanceflow as bf
from balanceflow.cli import app
from balanceflow.exceptions import DataError
from balanceflow.model_selection import fit_best, load_fitted
from balanceflow.model_selection._artefacts import CARD_ENTRY, card_path, check_card


@pytest.fixture(scope="module")
def thyroid():
    X, y = bf.datasets.load("new-thyroid1")
    X = pd.DataFrame(np.asarray(X), columns=[f"f{i}" for i in range(X.shape[1])])
    return X, y


@pytest.fixture(scope="module")
def fitted(thyroid):
    X, y = thyroid
    return fit_best(X, y, strategy="over", bag=0, vote=1, n_splits=2, epochs=1)


def test_the_card_is_inside_the_model_and_a_copy_beside_it(fitted, tmp_path):
    path = tmp_path / "m.keras"
    fitted.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.card.json", "m.keras"]
    with zipfile.ZipFile(path) as archive:
        inside = json.loads(archive.read(CARD_ENTRY))
    assert inside == json.loads(card_path(path).read_text())
    assert inside["decision"]["threshold"] == pytest.approx(fitted.threshold)


def test_an_edited_copy_of_the_card_is_not_used_and_is_named(fitted, thyroid, tmp_path):
    """Check that editing model.card.json changes nothing silently: a warning names it
    and the decision comes from the card inside the model."""
    path = tmp_path / "m.keras"
    fitted.save(path)
    copy = card_path(path)
    card = json.loads(copy.read_text())
    card["decision"]["threshold"] = 0.999
    copy.write_text(json.dumps(card))
    with pytest.warns(UserWarning, match="differs from the card inside"):
        loaded = load_fitted(path)
    assert loaded.threshold == pytest.approx(fitted.threshold)
    X, _ = thyroid
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b"not a zip file at all",
        lambda b: b"",
    ],
)
def test_a_damaged_model_file_is_one_clear_error(fitted, tmp_path, damage):
    path = tmp_path / "m.keras"
    fitted.save(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match="Write it again with `balanceflow fit`"):
        load_fitted(path)
    result = CliRunner().invoke(app, ["predict", str(path), str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: "{not json", "not valid JSON"),
        (
            lambda c: json.dumps({**c, "format": "other"}),
            "not a balanceflow model card",
        ),
        (lambda c: json.dumps({**c, "classes": [1]}), "at least 2 labels"),
        (
            lambda c: json.dumps(
                {**c, "decision": {**c["decision"], "threshold": 1.5}}
            ),
            r"lie in \[0, 1\]",
        ),
        (
            lambda c: json.dumps(
                {**c, "decision": {**c["decision"], "threshold": "x"}}
            ),
            "must be a number",
        ),
        (
            lambda c: json.dumps(
                {**c, "decision": {**c["decision"], "threshold_class_index": 5}}
            ),
            "0 or 1",
        ),
        (lambda c: json.dumps({**c, "class_priors": [0.5]}), "one share"),
        (lambda c: json.dumps({**c, "schema": {"nonsense": 1}}), "input columns"),
    ],
)
def test_a_damaged_card_is_one_clear_error(fitted, edit, message):
    text = edit(json.loads(json.dumps(fitted.card, default=str)))
    with pytest.raises(DataError, match=message):
        check_card(text, "m.keras")


KILL_SCRIPT = """
import sys
from pathlib import Path
from balanceflow.model_selection._artefacts import _replace_atomically
folder, target = Path(sys.argv[1]), Path(sys.argv[2])
pairs = [
    ((folder / f"{n}.keras").read_bytes(), (folder / f"{n}.card.json").read_bytes())
    for n in ("a", "b")
]
copy = target.with_name(target.name.removesuffix(".keras") + ".card.json")
print("ready", flush=True)
i = 0
while True:
    model, card = pairs[i % 2]
    _replace_atomically(target, model)  # the steps of FittedModel.save, once staged
    _replace_atomically(copy, card, may_vanish=True)
    i += 1
"""


def test_a_save_killed_at_random_moments_leaves_a_whole_model_and_no_temporary_file(
    fitted, thyroid, tmp_path
):
    """Check, over SIGKILLs at random moments of a loop that writes two different saved
    models to one path (the steps of ``save`` after the model is staged in the system's
    temporary folder), that the path always loads, that its card is its own model's (the
    threshold goes with the weights), and that nothing else is left in the folder.

    The writer imports no TensorFlow, so it starts fast and is killed often.
    """
    X, _ = thyroid
    other = fit_best(
        *thyroid, strategy="none", bag=0, vote=1, n_splits=2, epochs=2, seed=5
    )
    assert other.threshold != fitted.threshold
    fitted.save(tmp_path / "a.keras")
    other.save(tmp_path / "b.keras")
    expected = {round(m.threshold, 12): m.predict_proba(X) for m in (fitted, other)}
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "m.keras"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT))
    rng = random.Random(0)
    for _ in range(6):
        child = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), str(target)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        # SIGKILL cannot be caught: a kill between naming the new file and renaming it
        # over the old one (or, where the system has no unnamed files, during the write)
        # may leave that process's hidden name, and only that.
        left = {p.name for p in folder.iterdir()} - {"m.keras", "m.card.json"}
        assert left <= {
            f".m.keras.{child.pid}.tmp",
            f".m.card.json.{child.pid}.tmp",
        }
        if not target.exists():
            continue  # killed before the first write finished: nothing half-written
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the copy may lag one write
            loaded = load_fitted(target)
        proba = expected[round(loaded.threshold, 12)]
        np.testing.assert_allclose(loaded.predict_proba(X), proba, atol=1e-6)
    fitted.save(target)  # the next save removes what the killed ones left
    assert {p.name for p in folder.iterdir()} == {"m.keras", "m.card.json"}


def test_a_save_removes_what_a_killed_save_left_and_only_that(fitted, tmp_path):
    """Check that hidden files of dead saving processes go, and a live one's stay."""
    dead = tmp_path / ".m.keras.999999999.tmp"
    live = tmp_path / f".m.keras.{os.getppid()}.tmp"  # the test runner's parent: alive
    other = tmp_path / ".notes.txt"
    for path in (dead, live, other):
        path.write_text("x")
    fitted.save(tmp_path / "m.keras")
    assert not dead.exists()
    assert live.exists() and other.exists()
