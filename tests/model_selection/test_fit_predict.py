"""From comparison to a shipped model: selection on the training part only, a round trip
through the saved files, and a schema check at prediction time."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import balanceflow as bf
import balanceflow.model_selection._fit as fit_module
import balanceflow.training._trial as trial_module
from balanceflow.cli import app
from balanceflow.model_selection import fit_best, load_fitted
from balanceflow.model_selection._schema import TabularSchema

FAST = {"epochs": 3, "n_splits": 3, "seed": 0}


@pytest.fixture(scope="module")
def thyroid():
    X, y = bf.datasets.load("new-thyroid1")
    return X, y.map({1: "hyper", 0: "normal"})


def _spy(monkeypatch):
    """Record the rows compare() selects on, its result, and the rows transformed as the
    held-out part."""
    seen = {"selection": [], "result": [], "held_out": []}
    real_compare = fit_module.compare
    real_transform = TabularSchema.transform

    def spy_compare(X_part, y_part, **kwargs):
        seen["selection"].append(set(X_part.index))
        seen["result"].append(real_compare(X_part, y_part, **kwargs))
        return seen["result"][-1]

    def spy_transform(self, frame, source="the input"):
        if source == "the held-out part":
            seen["held_out"].append(set(frame.index))
        return real_transform(self, frame, source)

    monkeypatch.setattr(fit_module, "compare", spy_compare)
    monkeypatch.setattr(TabularSchema, "transform", spy_transform)
    return seen


def test_best_with_a_holdout_never_selects_with_held_out_rows(thyroid, monkeypatch):
    """Check that the rows compare() selects on and the rows the threshold is tuned on are
    disjoint and together cover the data."""
    X, y = thyroid
    seen = _spy(monkeypatch)
    fitted = fit_best(X, y, holdout=0.2, **FAST)
    (selection,), (held_out,) = seen["selection"], seen["held_out"]
    assert selection.isdisjoint(held_out)
    assert selection | held_out == set(X.index)
    tuning = fitted.card["threshold_tuning"]
    assert tuning["on"] == "held-out rows"
    assert len(held_out) == tuning["rows"] == round(0.2 * len(X))
    assert fitted.card["strategy"] in fitted.card["selection"]["candidates"]


def _best_g_mean(scores, truth):
    """The highest G-mean of ``scores >= cut`` over every distinct score (brute force)."""

    def g_mean(cut):
        predicted = scores >= cut
        return np.sqrt(predicted[truth].mean() * (~predicted[~truth]).mean())

    return g_mean, max(g_mean(cut) for cut in np.unique(scores))


def test_one_final_model_tunes_the_threshold_on_the_selection_out_of_fold(
    thyroid, monkeypatch
):
    """Check that by default nothing is held out, and that with bag=0 the threshold
    maximises G-mean over the chosen strategy's out-of-fold probabilities in the
    selection (a brute-force numpy search over every distinct score)."""
    X, y = thyroid
    seen = _spy(monkeypatch)
    fitted = fit_best(X, y, bag=0, **FAST)
    assert seen["selection"] == [set(X.index)] and seen["held_out"] == []
    (result,) = seen["result"]
    positive = fitted.threshold_class
    assert y.value_counts()[fitted.classes[positive]] == y.value_counts().min()
    scores = result.proba[fitted.card["strategy"]][:, positive]
    truth = result.y_true == positive
    assert not np.isnan(scores).any()  # every row has an out-of-fold score
    g_mean, best = _best_g_mean(scores, truth)
    assert g_mean(fitted.threshold) == pytest.approx(best)
    assert fitted.card["threshold_tuning"]["rows"] == len(X)
    assert fitted.card["threshold_tuning"]["metrics"]["g_mean"] == pytest.approx(best)
    assert fitted.card["final_model"]["models"] == len(fitted.card["members"] or [1])


def test_a_bag_scores_each_row_with_the_models_that_never_trained_on_it(
    thyroid, monkeypatch
):
    """Check the bag against the models it trained (recorded by a spy): bag=2 on 3 folds
    gives 2 models per training fold and 2 on all the rows; a row's out-of-fold score is
    the mean of the 2 models of the fold that left it out; the saved model is the mean
    of all 8; the threshold maximises G-mean over the out-of-fold scores."""
    import keras

    X, y = thyroid
    seen = _spy(monkeypatch)
    trained = []
    real_train = trial_module.train_model

    def spy_train(strategy, state, X_part, y_part, **kwargs):
        model = real_train(strategy, state, X_part, y_part, **kwargs)
        # The runner trains the next trial from the same snapshot model: keep a copy.
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        trained.append((X_part.copy(), copy))
        return model

    monkeypatch.setattr(trial_module, "train_model", spy_train)
    # The spy watches the one-at-a-time trainer (fused == loop is tested in training/).
    fitted = fit_best(X, y, strategy="over", bag=2, engine="loop", **FAST)
    (result,) = seen["result"]
    features = fitted.schema.transform(X)

    def proba(model, rows):
        return keras.ops.convert_to_numpy(model(features[rows]))[:, 0]

    everything = np.arange(len(X))
    # The selection's trials train through the same function, on fold-wise
    # preprocessing; the bag's models are those trained on the final features.
    sets = [train for train, _ in result.folds] + [everything]
    trained = [
        (part, m)
        for part, m in trained
        if any(np.array_equal(part, features[rows]) for rows in sets)
    ]
    assert len(trained) == 8 == fitted.card["final_model"]["models"]
    oof = np.full(len(X), np.nan)
    for train_rows, test_rows in [*result.folds, (everything, None)]:
        models = [
            m for part, m in trained if np.array_equal(part, features[train_rows])
        ]
        assert len(models) == 2
        if test_rows is not None:
            oof[test_rows] = np.mean([proba(m, test_rows) for m in models], axis=0)
    # One output unit: P(class 1); the card's classes are sorted, so column 1.
    np.testing.assert_allclose(fitted.oof_proba[:, 1], oof, atol=1e-6)
    every_model = np.mean([proba(m, everything) for _, m in trained], axis=0)
    np.testing.assert_allclose(fitted.predict_proba(X)[:, 1], every_model, atol=1e-6)

    positive = fitted.threshold_class
    scores = fitted.oof_proba[:, positive]
    g_mean, best = _best_g_mean(scores, result.y_true == positive)
    assert g_mean(fitted.threshold) == pytest.approx(best)
    assert fitted.card["threshold_tuning"]["on"].startswith("out-of-fold predictions")


def test_fit_predict_round_trip_through_the_cli(thyroid, tmp_path):
    """Check that `balanceflow fit` then `predict` gives the labels and probabilities of the
    model that was trained, after a safe-mode reload."""
    X, y = thyroid
    table = X.assign(label=y.to_numpy())
    train_csv, new_csv = tmp_path / "train.csv", tmp_path / "new.csv"
    table.to_csv(train_csv, index=False)
    X.iloc[:25].to_csv(new_csv, index=False)
    runner = CliRunner()
    model = tmp_path / "m.keras"
    args = ["fit", str(train_csv), "-t", "label", "--out", str(model), "-s", "over"]
    args += ["--epochs", "3", "--n-splits", "3", "--bag", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "the average of 4 models" in result.output
    assert (tmp_path / "m.card.json").exists()
    preds = tmp_path / "p.csv"
    result = runner.invoke(
        app, ["predict", str(model), str(new_csv), "--out", str(preds)]
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(preds)
    fitted = load_fitted(model)
    proba = fitted.predict_proba(pd.read_csv(new_csv))
    np.testing.assert_allclose(
        written[["proba_hyper", "proba_normal"]], proba, atol=1e-6
    )
    k = fitted.classes.index("hyper")
    expected = np.where(proba[:, k] >= fitted.threshold, "hyper", "normal")
    assert written["label"].tolist() == expected.tolist()
    assert fitted.card["decision"]["threshold_class_index"] == k  # the minority
    # The training table itself, label column included: the label is set aside, by name.
    assert fitted.card["target"] == "label"
    again = tmp_path / "again.csv"
    result = runner.invoke(
        app, ["predict", str(model), str(train_csv), "--out", str(again)]
    )
    assert result.exit_code == 0, result.output
    assert "Ignoring the column 'label'" in result.stderr
    np.testing.assert_allclose(
        pd.read_csv(again)[["proba_hyper", "proba_normal"]],
        fitted.predict_proba(X),
        atol=1e-6,
    )


def test_predict_rejects_a_table_with_other_columns(thyroid, tmp_path):
    X, y = thyroid
    fitted = fit_best(X, y, strategy="none", **FAST)
    fitted.save(tmp_path / "m.keras")
    runner = CliRunner()
    for frame, message in [
        (X.drop(columns=[X.columns[0]]), f"missing column(s) ['{X.columns[0]}']"),
        (X.assign(extra=1.0), "unexpected column(s) ['extra']"),
    ]:
        frame.to_csv(tmp_path / "bad.csv", index=False)
        result = runner.invoke(
            app, ["predict", str(tmp_path / "m.keras"), str(tmp_path / "bad.csv")]
        )
        assert result.exit_code == 1
        assert message in result.output


def test_best_picks_the_top_mean_among_strategies_and_votes_of_the_best(
    thyroid, monkeypatch
):
    """Check the selection against an independent scoring: scikit-learn's average
    precision of every single candidate and of the soft votes of the 2 and 3 best, fold
    by fold from the out-of-fold probabilities; the chosen one has the highest mean."""
    from sklearn.metrics import average_precision_score

    X, y = thyroid
    seen = _spy(monkeypatch)
    fitted = fit_best(X, y, vote=3, **FAST)
    (result,) = seen["result"]
    positive = int(np.argmin(result.class_counts))
    truth = result.y_true == positive

    def mean_ap(proba):
        return np.mean(
            [
                average_precision_score(truth[te], proba[te, positive])
                for _, te in result.folds
            ]
        )

    singles = ["none", "class_weight", "over", "under"]
    scores = {name: mean_ap(result.proba[name]) for name in [*singles, "seed_ensemble"]}
    ranked = sorted(singles, key=lambda n: -scores[n])
    for k in (2, 3):
        members = ranked[:k]
        vote = np.mean([result.proba[m] for m in members], axis=0)
        scores["vote(" + "+".join(members) + ")"] = mean_ap(vote)
    best = max(scores.values())
    assert scores[fitted.card["strategy"]] == pytest.approx(best, abs=1e-9)
    if fitted.card["strategy"].startswith("vote("):
        assert len(fitted.card["members"]) in (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vote": 0}, r"`vote` must be an int >= 1.*vote=0"),
        ({"holdout": 0.9}, r"`holdout` must be None.*holdout=0.9"),
        ({"bag": -1}, r"`bag` must be an int >= 0.*bag=-1"),
    ],
)
def test_fit_best_rejects_bad_settings_before_training(thyroid, kwargs, message):
    from balanceflow.exceptions import InvalidParameterError

    X, y = thyroid
    with pytest.raises(InvalidParameterError, match=message):
        fit_best(X, y, **FAST, **kwargs)


def test_a_multi_class_bag_decides_by_argmax_of_the_averaged_probabilities():
    """Check a 3-class table (long-tailed, one text column): no threshold, labels are the
    argmax of the bag's averaged probabilities, and the out-of-fold predictions separate
    three well-separated blobs (centres 8 standard deviations apart)."""
    rng = np.random.default_rng(0)
    sizes = {"common": 120, "rare": 30, "very rare": 12}
    centres = {"common": (0, 0), "rare": (8, 0), "very rare": (0, 8)}
    frames = [
        pd.DataFrame(
            {
                "a": rng.normal(centres[name][0], 1, size),
                "b": rng.normal(centres[name][1], 1, size),
                "shop": rng.choice(["x", "y"], size),
                "label": name,
            }
        )
        for name, size in sizes.items()
    ]
    table = pd.concat(frames, ignore_index=True)
    X, y = table.drop(columns="label"), table["label"]
    fitted = fit_best(X, y, strategy="class_weight", bag=1, epochs=40, n_splits=3)
    assert fitted.threshold is None
    assert fitted.card["decision"]["rule"] == "argmax"
    assert fitted.card["final_model"]["models"] == 4
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    expected = np.asarray(fitted.classes, dtype=object)[proba.argmax(axis=1)]
    assert fitted.predict(X).tolist() == expected.tolist()
    oof_labels = np.asarray(fitted.classes)[fitted.oof_proba.argmax(axis=1)]
    recall = {c: np.mean(oof_labels[y == c] == c) for c in sizes}
    assert min(recall.values()) > 0.9, recall


def test_a_bag_trained_in_two_workers_equals_the_serial_one(thyroid):
    """Check that the bag's models, trained in worker processes and rebuilt here from
    their weights, predict what the serial bag predicts, and tune the same threshold."""
    X, y = thyroid
    serial = fit_best(X, y, strategy="over", bag=1, **FAST)
    workers = fit_best(X, y, strategy="over", bag=1, n_jobs=2, **FAST)
    assert workers.card["final_model"]["models"] == 4
    np.testing.assert_allclose(workers.oof_proba, serial.oof_proba, atol=1e-6)
    np.testing.assert_allclose(
        workers.predict_proba(X), serial.predict_proba(X), atol=1e-6
    )
    assert workers.threshold == pytest.approx(serial.threshold)
