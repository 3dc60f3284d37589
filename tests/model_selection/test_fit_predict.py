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


def _to_prior(p, share):
    """Bayes' rule by hand: P(class 1) of a model trained on balanced classes, brought to
    a prior where class 1 has ``share`` of the rows."""
    return p * share / (p * share + (1 - p) * (1 - share))


def _spy_final_models(monkeypatch):
    """Record every model the final bag rebuilds, before any correction."""
    built = []
    real = fit_module.rebuild_model

    def spy(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(fit_module, "rebuild_model", spy)
    return built


def _raw(model, features):
    import keras

    return keras.ops.convert_to_numpy(model(features))[:, 0]


def test_one_final_model_tunes_the_threshold_on_the_selection_out_of_fold(
    thyroid, monkeypatch
):
    """Check that by default nothing is held out, and that with bag=0 the threshold
    maximises G-mean (a brute-force numpy search over every distinct score) over the
    selection's out-of-fold probabilities of an under-sampled model, each brought by
    Bayes' rule by hand from the balanced prior it trained under to the data's; and that
    the shipped model's probabilities are its raw outputs brought the same way."""
    X, y = thyroid
    seen = _spy(monkeypatch)
    built = _spy_final_models(monkeypatch)
    fitted = fit_best(X, y, strategy="under", bag=0, **FAST)
    assert seen["selection"] == [set(X.index)] and seen["held_out"] == []
    (result,) = seen["result"]
    positive = fitted.threshold_class
    assert y.value_counts()[fitted.classes[positive]] == y.value_counts().min()
    share = float(np.mean(result.y_true == 1))  # of class index 1 in the data
    raw = result.proba["under"][:, 1]
    assert not np.isnan(raw).any()  # every row has an out-of-fold score
    expected = _to_prior(raw, share)
    np.testing.assert_allclose(fitted.oof_proba[:, 1], expected, atol=1e-9)
    scores = expected if positive == 1 else 1 - expected
    g_mean, best = _best_g_mean(scores, result.y_true == positive)
    assert g_mean(fitted.threshold) == pytest.approx(best)
    assert fitted.card["threshold_tuning"]["rows"] == len(X)
    assert fitted.card["threshold_tuning"]["metrics"]["g_mean"] == pytest.approx(best)
    assert fitted.card["final_model"]["models"] == 1
    (model,) = built
    features = fitted.schema.transform(X)
    np.testing.assert_allclose(
        fitted.predict_proba(X)[:, 1],
        _to_prior(_raw(model, features), share),
        atol=1e-5,
    )
    calibration = fitted.card["calibration"]
    assert calibration["status"] == "exact"
    assert calibration["target_prior"][1] == pytest.approx(share)
    # The corrected out-of-fold probabilities average to about the data's share.
    assert abs(fitted.oof_proba[:, 1].mean() - share) < abs(raw.mean() - share)


def test_a_deployment_prior_retargets_the_shipped_probabilities_and_threshold(
    thyroid, monkeypatch, tmp_path
):
    """Check that with a deployment prior (the share of the positive class) the shipped
    probabilities are the raw outputs brought by hand from the balanced prior to that
    one, the threshold maximises G-mean on out-of-fold probabilities brought the same
    way, and the saved model decides the same after a reload."""
    X, y = thyroid
    seen = _spy(monkeypatch)
    built = _spy_final_models(monkeypatch)
    fitted = fit_best(X, y, strategy="under", bag=0, deployment_prior=0.02, **FAST)
    (result,) = seen["result"]
    positive = fitted.threshold_class
    assert fitted.classes[positive] == "hyper"
    share = 0.98 if positive == 0 else 0.02  # of class index 1 where it is deployed
    expected = _to_prior(result.proba["under"][:, 1], share)
    np.testing.assert_allclose(fitted.oof_proba[:, 1], expected, atol=1e-9)
    scores = expected if positive == 1 else 1 - expected
    g_mean, best = _best_g_mean(scores, result.y_true == positive)
    assert g_mean(fitted.threshold) == pytest.approx(best)
    (model,) = built
    proba = fitted.predict_proba(X)
    raw = _raw(model, fitted.schema.transform(X))
    np.testing.assert_allclose(proba[:, 1], _to_prior(raw, share), atol=1e-5)
    card = fitted.card["calibration"]
    assert card["target"] == "the deployment prior given"
    assert card["target_prior"][positive] == pytest.approx(0.02)
    assert card["tuning_rows"] is None  # rows of another prior cannot judge it
    fitted.save(tmp_path / "m.keras")
    loaded = load_fitted(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict_proba(X), proba, atol=1e-6)
    assert (loaded.predict(X) == fitted.predict(X)).all()


def test_without_calibration_the_model_ships_its_raw_probabilities(
    thyroid, monkeypatch
):
    """Check that calibrate=False ships the raw outputs and tunes on the raw
    out-of-fold probabilities."""
    X, y = thyroid
    seen = _spy(monkeypatch)
    built = _spy_final_models(monkeypatch)
    fitted = fit_best(X, y, strategy="under", bag=0, calibrate=False, **FAST)
    (result,) = seen["result"]
    (model,) = built
    np.testing.assert_allclose(
        fitted.predict_proba(X)[:, 1],
        _raw(model, fitted.schema.transform(X)),
        atol=1e-6,
    )
    np.testing.assert_array_equal(fitted.oof_proba, result.proba["under"])
    assert fitted.card["calibration"]["target_prior"] is None


def test_a_bag_scores_each_row_with_the_models_that_never_trained_on_it(
    thyroid, monkeypatch
):
    """Check the bag against the models it trained (recorded by a spy): bag=2 on 3 folds
    gives 2 models per training fold and 2 on all the rows; a row's out-of-fold score is
    the mean of the 2 models of the fold that left it out; the saved model is the mean
    of all 8, each brought by hand from the balanced prior it trained under to the
    data's; the threshold maximises G-mean over the out-of-fold scores."""
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

    # "over" trains on balanced classes: Bayes' rule brings each model to the data's prior.
    share = float(np.mean(result.y_true == 1))

    def proba_corrected(model, rows):
        return _to_prior(proba(model, rows), share)

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
            oof[test_rows] = np.mean(
                [proba_corrected(m, test_rows) for m in models], axis=0
            )
    # One output unit: P(class 1); the card's classes are sorted, so column 1.
    np.testing.assert_allclose(fitted.oof_proba[:, 1], oof, atol=1e-6)
    every_model = np.mean([proba_corrected(m, everything) for _, m in trained], axis=0)
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
        ({"deployment_prior": 1.5}, r"strictly between 0 and 1.*deployment_prior=1.5"),
        ({"deployment_prior": True}, r"not a bool.*deployment_prior=True"),
        ({"deployment_prior": {"hyper": 0.1}}, r"every class.*missing: \['normal'\]"),
        (
            {"deployment_prior": {"hyper": 0.1, "normal": 0.8}},
            r"sum to 1; they sum to 0\.9",
        ),
        ({"deployment_prior": [0.5]}, r"one share per class \(2.*Received 1"),
        ({"deployment_prior": "0.1"}, r"must be None, a share.*str '0.1'"),
        ({"calibrate": "no"}, r"`calibrate` must be True or False.*'no'"),
    ],
)
def test_fit_best_rejects_bad_settings_before_training(thyroid, kwargs, message):
    from balanceflow.exceptions import InvalidParameterError

    X, y = thyroid
    with pytest.raises(InvalidParameterError, match=message):
        fit_best(X, y, **FAST, **kwargs)


def test_a_multi_class_bag_decides_by_argmax_of_probability_over_prior(tmp_path):
    """Check a 3-class table (long-tailed, one text column): no threshold, labels are the
    argmax of the bag's averaged (calibrated) probabilities divided by the class shares
    (the Bayes decision for balanced accuracy), and the out-of-fold predictions separate
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
    assert fitted.card["decision"]["rule"] == "argmax of P(k) / prior_k"
    assert fitted.card["final_model"]["models"] == 4
    # Sorted classes: common, rare, very rare; their shares of the 162 rows.
    prior = np.array([120, 30, 12]) / 162
    np.testing.assert_allclose(fitted.card["calibration"]["target_prior"], prior)
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-5)
    expected = np.asarray(fitted.classes, dtype=object)[(proba / prior).argmax(axis=1)]
    assert fitted.predict(X).tolist() == expected.tolist()
    fitted.save(tmp_path / "m.keras")
    assert load_fitted(tmp_path / "m.keras").predict(X).tolist() == expected.tolist()
    oof_labels = np.asarray(fitted.classes)[(fitted.oof_proba / prior).argmax(axis=1)]
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
