"""The data checks find planted duplicates, conflicting labels, near-copies across folds,
leaked and ID columns, class-dependent missingness, overlap and label noise, and stay
quiet on clean data."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

import balanceflow as bf
from balanceflow.model_selection._data_checks import check_data, label_issues


def _clean(n=400, rare=40, gap=2.0, seed=0):
    """Two Gaussian blobs 2 apart in each of 4 columns: well separated together (4 apart),
    no column alone a near-perfect separator. Nothing worth saying."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype=int)
    y[:rare] = 1
    X = pd.DataFrame(rng.normal(size=(n, 4)) + gap * y[:, None], columns=list("abcd"))
    return X, y


def _folds(y, seed=0):
    return list(
        StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    )


def _checks(X, y):
    return check_data(X, y, np.array([0, 1]), _folds(y), positive=1)


def _by_check(result):
    return {f.check: f for f in result.findings}


def test_clean_data_gives_no_findings():
    X, y = _clean()
    result = _checks(X, y)
    assert result.findings == []
    assert set(result.checked) == {
        "duplicates",
        "missingness",
        "leak and id columns",
        "near_duplicates",
        "overlap",
    }
    assert result.overlap < 0.3  # a finding only from 0.5


def test_planted_duplicates_and_conflicting_labels_are_found():
    X, y = _clean()
    copies = np.arange(100, 130)  # 30 majority rows copied as they are
    flipped = np.arange(200, 210)  # 10 majority rows copied with the other label
    X2 = pd.concat([X, X.iloc[copies], X.iloc[flipped]], ignore_index=True)
    y2 = np.concatenate([y, y[copies], 1 - y[flipped]])
    found = _by_check(_checks(X2, y2))
    assert found["duplicates"].details["extra_rows"] == 40
    assert found["duplicates"].details["groups"] == 40
    assert found["duplicates"].severity == "warning"  # continuous features
    assert found["conflicting_labels"].details == {"groups": 10, "rows": 20}
    planted = set(flipped) | set(range(430, 440))
    assert set(found["conflicting_labels"].rows) == planted


def test_near_copies_across_folds_are_found():
    X, y = _clean()
    rng = np.random.default_rng(1)
    source = np.arange(50, 80)
    near = X.iloc[source] + 1e-7 * rng.normal(size=(30, 4))
    X2 = pd.concat([X, near], ignore_index=True)
    y2 = np.concatenate([y, y[source]])
    found = _by_check(_checks(X2, y2))
    finding = found["near_duplicates"]
    pairs = set(source) | set(range(400, 430))
    assert finding.rows and set(finding.rows) <= pairs
    assert "duplicates" not in found  # not exact copies


def test_leaked_and_id_columns_and_class_dependent_missingness_are_found():
    X, y = _clean(gap=0.5)  # the real features barely separate the classes
    rng = np.random.default_rng(2)
    X["leak"] = y + 0.01 * rng.normal(size=len(y))
    X["customer"] = [f"c{i:05d}" for i in rng.permutation(len(y))]
    lab = rng.normal(size=len(y))
    lab[(y == 1) & (rng.random(len(y)) < 0.6)] = np.nan
    X["lab"] = lab
    found = _checks(X, y).findings
    leaks = [f.details["column"] for f in found if f.check == "leak"]
    assert leaks == ["leak"]
    assert [f.details["column"] for f in found if f.check == "id_column"] == [
        "customer"
    ]
    (missing,) = [f for f in found if f.check == "missingness"]
    assert missing.details["column"] == "lab"
    assert missing.details["rate_by_class"]["0"] == 0.0
    assert missing.details["rate_by_class"]["1"] == pytest.approx(
        np.isnan(lab[y == 1]).mean()
    )


def test_overlap_is_reported_when_the_classes_share_their_space():
    rng = np.random.default_rng(3)
    y = (np.arange(400) < 40).astype(int)
    X = pd.DataFrame(
        rng.normal(size=(400, 3)), columns=list("abc")
    )  # same distribution
    result = _checks(X, y)
    assert result.overlap > 0.8
    assert _by_check(result)["overlap"].severity == "note"


def test_planted_label_noise_is_found_by_confident_learning():
    """Flip 5% of the labels of separable data; the rows flagged from a logistic
    regression's out-of-fold probabilities are mostly the flipped ones, and most flipped
    rows are flagged."""
    X, y = _clean(n=600, rare=120, seed=4)
    rng = np.random.default_rng(4)
    flipped = rng.choice(len(y), 30, replace=False)
    noisy = y.copy()
    noisy[flipped] = 1 - noisy[flipped]
    proba = cross_val_predict(
        LogisticRegression(), X, noisy, cv=_folds(noisy), method="predict_proba"
    )
    finding = label_issues(proba, noisy, np.array([0, 1]), "logistic regression")
    flagged = set(np.flatnonzero(_flag_all(proba, noisy)))
    assert finding.details["rows"] == len(flagged)
    assert len(flagged & set(flipped)) >= 24
    assert len(flagged & set(flipped)) / len(flagged) >= 0.75
    assert set(finding.rows) <= flagged
    # The clean labels of the same data: at most a note on a few borderline rows (the
    # blobs overlap a little: the Bayes error is about 2%).
    clean_proba = cross_val_predict(
        LogisticRegression(), X, y, cv=_folds(y), method="predict_proba"
    )
    clean = label_issues(clean_proba, y, np.array([0, 1]), "logistic regression")
    assert clean is None or (
        clean.severity == "note" and clean.details["rows"] <= 0.02 * len(y)
    )


def _flag_all(proba, codes):
    """The rule written out, row by row: own class below its typical confidence, another
    class at twice its share of its own."""
    t = np.array([proba[codes == j, j].mean() for j in range(proba.shape[1])])
    flags = np.zeros(len(codes), dtype=bool)
    for i, label in enumerate(codes):
        own = proba[i, label] / t[label]
        rivals = [proba[i, j] / t[j] for j in range(proba.shape[1]) if j != label]
        flags[i] = own < 1 and max(rivals) >= 2 * own
    return flags


def test_compare_runs_the_checks_and_reports_them(monkeypatch):
    """Check compare with a planted leak: the finding is in the result and its JSON, and
    compare(data_checks=False) skips them."""
    X, y = _clean(gap=0.5)
    X["leak"] = y + 0.01 * np.random.default_rng(5).normal(size=len(y))
    result = bf.compare(X, y, strategies=["none"], epochs=1, n_splits=3)
    assert "leak" in {f.check for f in result.data_checks.findings}
    assert "label_issues" in result.data_checks.checked
    assert any(
        f["check"] == "leak" for f in result.to_dict()["data_checks"]["findings"]
    )
    assert "The data checks warn of leak" in result.recommendation()
    # Where the classes overlap, contradicted labels are hard cases: a note at most.
    assert result.data_checks.overlap is not None
    for finding in result.data_checks.findings:
        if finding.check == "label_issues" and result.data_checks.overlap >= 0.5:
            assert finding.severity == "note"
    quiet = bf.compare(
        X,
        y,
        strategies=["none"],
        epochs=1,
        n_splits=3,
        data_checks=False,
        baselines="none",
    )
    assert quiet.data_checks is None


def test_ids_are_text_or_counting_integers_not_any_distinct_number():
    X, y = _clean(gap=0.5)
    rng = np.random.default_rng(6)
    X["cents"] = rng.permutation(100_000)[: len(y)]  # all distinct, in no order
    X["row"] = np.arange(len(y))  # counts up: a saved row number
    found = [
        f.details["column"] for f in _checks(X, y).findings if f.check == "id_column"
    ]
    assert found == ["row"]


def test_a_check_that_cannot_read_the_cells_is_skipped_not_fatal():
    X, y = _clean()
    X["tags"] = [[i % 3] for i in range(len(y))]  # lists: not hashable
    result = _checks(X, y)
    skipped = [c for c in result.checked if "skipped" in c]
    assert any(c.startswith("duplicates (skipped: TypeError") for c in skipped)


def test_label_issues_among_entangled_classes_are_a_note():
    rng = np.random.default_rng(7)
    codes = (np.arange(300) < 60).astype(int)
    proba = rng.dirichlet([1, 1], size=300)
    loud = label_issues(proba, codes, np.array([0, 1]), "m", overlap=0.1)
    quiet = label_issues(proba, codes, np.array([0, 1]), "m", overlap=0.9)
    assert loud.details == quiet.details
    assert loud.severity == "warning" and quiet.severity == "note"
    assert "hard cases" in quiet.summary


def test_a_categorical_leak_is_found_and_a_noise_category_is_not():
    """Check a text column that agrees with the label on all rows but one (a leak: ROC-AUC
    0.999) against columns of random categories, small ones included (no signal)."""
    X, y = _clean(gap=0.5)
    rng = np.random.default_rng(8)
    near_copy = np.where(y == 1, "yes", "no").astype(object)
    near_copy[300] = "yes"
    X["flag"] = near_copy
    X["colour"] = rng.choice(["red", "green", "blue"], size=len(y))
    X["town"] = [f"t{i}" for i in rng.integers(0, 45, size=len(y))]  # ~9 rows each
    leaks = [f.details["column"] for f in _checks(X, y).findings if f.check == "leak"]
    assert leaks == ["flag"]
