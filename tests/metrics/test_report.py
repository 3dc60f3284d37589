"""Tests of ``evaluate`` and ``EvaluationReport``."""

from __future__ import annotations

import json
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.metrics import geometric_mean_score
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics import METRIC_NAMES, EvaluationReport, evaluate

ATOL = 1e-10
FAST = settings(max_examples=50, deadline=None)

Y_STR = np.array(["neg", "neg", "neg", "neg", "neg", "neg", "pos", "pos"])
P_ONE = np.array([0.1, 0.2, 0.1, 0.3, 0.8, 0.2, 0.9, 0.4])


def _minority(y) -> object:
    """Least frequent label; ties -> the label sorted last (balanceflow's one tie rule)."""
    counts = Counter(np.asarray(y).tolist())
    smallest = min(counts.values())
    return max(label for label in counts if counts[label] == smallest)


@st.composite
def binary_cases(draw):
    """(y_true with both classes, sorted classes, probability of class 1 with ties, threshold)."""
    pool = draw(st.sampled_from([[0, 1], ["a", "b"], [False, True], [3, -1]]))
    extra = draw(st.lists(st.sampled_from(pool), max_size=28))
    y = np.array(draw(st.permutations(pool + extra)))
    p = (
        np.array(draw(st.lists(st.integers(0, 8), min_size=len(y), max_size=len(y))))
        / 8
    )
    threshold = draw(st.integers(0, 8)) / 8
    return y, np.array(sorted(pool)), p, threshold


@st.composite
def multiclass_cases(draw):
    """(y_true holding every class, sorted classes, probability rows with ties)."""
    pool = draw(st.sampled_from([[0, 1, 2], ["x", "y", "z", "w"]]))
    extra = draw(st.lists(st.sampled_from(pool), max_size=27))
    y = np.array(draw(st.permutations(pool + extra)))
    k = len(pool)
    raw = draw(
        st.lists(
            st.lists(st.integers(1, 4), min_size=k, max_size=k),
            min_size=len(y),
            max_size=len(y),
        )
    )
    raw = np.array(raw, dtype=float)
    return y, np.array(sorted(pool)), raw / raw.sum(axis=1, keepdims=True)


def _check_against_references(
    report, y, y_pred, classes, expected_pr_auc, expected_roc_auc
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {
            "pr_auc": expected_pr_auc,
            "roc_auc": expected_roc_auc,
            "balanced_accuracy": skm.balanced_accuracy_score(y, y_pred),
            "g_mean": geometric_mean_score(y, y_pred, average="multiclass"),
            "minority_f1": skm.f1_score(
                y, y_pred, labels=[_minority(y)], average=None, zero_division=0
            )[0],
            "macro_f1": skm.f1_score(
                y, y_pred, labels=classes, average="macro", zero_division=0
            ),
            "mcc": skm.matthews_corrcoef(y, y_pred),
            "accuracy": skm.accuracy_score(y, y_pred),
        }
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            y, y_pred, labels=classes, zero_division=0
        )
    for name, value in expected.items():
        assert getattr(report, name) == pytest.approx(value, abs=ATOL), name
    assert_allclose(report.precision, precision, rtol=0, atol=ATOL)
    assert_allclose(report.recall, recall, rtol=0, atol=ATOL)
    assert_allclose(report.f1, f1, rtol=0, atol=ATOL)
    assert_array_equal(report.support, support)
    assert_array_equal(
        report.confusion_matrix, skm.confusion_matrix(y, y_pred, labels=classes)
    )
    assert report.minority_class == _minority(y)


@FAST
@given(binary_cases())
def test_binary_report_matches_references(case):
    """Check every binary metric of the report against scikit-learn / imbalanced-learn."""
    y, classes, p, threshold = case
    y_pred = np.where(p >= threshold, classes[1], classes[0])
    minority = _minority(y)
    minority_score = p if minority == classes[1] else 1 - p
    report = evaluate(y, p, threshold=threshold)
    _check_against_references(
        report,
        y,
        y_pred,
        classes,
        expected_pr_auc=skm.average_precision_score(y == minority, minority_score),
        expected_roc_auc=skm.roc_auc_score(y == classes[1], p),
    )
    assert report.threshold == threshold
    assert_array_equal(report.classes, classes)


@FAST
@given(multiclass_cases())
def test_multiclass_report_matches_references(case):
    """Check every multi-class metric of the report against scikit-learn / imbalanced-learn."""
    y, classes, proba = case
    y_pred = classes[np.argmax(proba, axis=1)]
    report = evaluate(y, proba)
    _check_against_references(
        report,
        y,
        y_pred,
        classes,
        expected_pr_auc=skm.average_precision_score(
            label_binarize(y, classes=classes), proba, average="macro"
        ),
        expected_roc_auc=skm.roc_auc_score(
            y, proba, multi_class="ovr", average="macro"
        ),
    )
    assert report.threshold is None


@FAST
@given(binary_cases())
def test_binary_shapes_give_the_same_report(case):
    """Check (n,), (n, 1) and (n, 2) probabilities give the same report."""
    y, _, p, threshold = case
    flat = evaluate(y, p, threshold=threshold).to_dict()
    assert evaluate(y, p[:, None], threshold=threshold).to_dict() == flat
    assert (
        evaluate(y, np.column_stack([1 - p, p]), threshold=threshold).to_dict() == flat
    )


def test_probability_at_threshold_predicts_class_one():
    """Check the rule: class index 1 when p >= threshold (equality included)."""
    y = [0, 0, 1, 1]
    p = [0.2, 0.5, 0.5, 0.9]
    assert_array_equal(evaluate(y, p).confusion_matrix, [[1, 1], [0, 2]])
    assert_array_equal(evaluate(y, p, threshold=0.9).confusion_matrix, [[2, 0], [1, 1]])
    assert_array_equal(evaluate(y, p, threshold=0.0).confusion_matrix, [[0, 2], [0, 2]])
    assert_array_equal(evaluate(y, p, threshold=1.0).confusion_matrix, [[2, 0], [2, 0]])


def test_threshold_changes_labels_not_rankings():
    """Check that the threshold moves label metrics but leaves PR-AUC and ROC-AUC unchanged."""
    low = evaluate(Y_STR, P_ONE, threshold=0.35)
    high = evaluate(Y_STR, P_ONE, threshold=0.85)
    assert low.pr_auc == high.pr_auc
    assert low.roc_auc == high.roc_auc
    assert low.minority_f1 != high.minority_f1


def test_hand_worked_report():
    """Check a small imbalanced case worked out by hand."""
    report = evaluate(Y_STR, P_ONE, threshold=0.4)
    assert isinstance(report, EvaluationReport)
    # predicted pos: rows 4 (0.8, neg), 6 (0.9, pos), 7 (0.4, pos)
    assert_array_equal(report.confusion_matrix, [[5, 1], [0, 2]])
    assert report.minority_class == "pos"
    assert report.minority_f1 == pytest.approx(2 * 2 / (2 * 2 + 1))
    assert report.accuracy == pytest.approx(7 / 8)
    assert report.balanced_accuracy == pytest.approx((5 / 6 + 1) / 2)
    assert report.g_mean == pytest.approx(np.sqrt(5 / 6))
    # ranking of pos: 0.9 (+), 0.8 (-), 0.4 (+): AP = 1/2 * 1 + 1/2 * 2/3
    assert report.pr_auc == pytest.approx(5 / 6)
    # 0.9 beats all 6 negatives, 0.4 beats 5 of them
    assert report.roc_auc == pytest.approx(11 / 12)


def test_string_labels_and_to_frame():
    """Check string classes flow into the per-class table and the dict."""
    report = evaluate(Y_STR, P_ONE)
    frame = report.to_frame()
    assert list(frame.columns) == ["precision", "recall", "f1", "support"]
    assert list(frame.index) == ["neg", "pos"]
    assert frame.index.name == "class"
    assert_allclose(frame["f1"].to_numpy(), report.f1)
    assert frame.loc["pos", "support"] == 2
    assert report.to_dict()["classes"] == ["neg", "pos"]


def test_to_dict_is_json_serialisable():
    """Check to_dict holds plain Python types only and survives a JSON round trip."""
    for y, proba, kwargs in [
        (Y_STR, P_ONE, {"threshold": 0.3}),
        (
            np.array([0, 1, 2, 2, 1, 0]),
            np.eye(3)[[0, 1, 2, 1, 1, 0]] * 0.8 + 0.2 / 3,
            {},
        ),
        (np.array([True, False, False, False]), [0.9, 0.1, 0.6, 0.2], {}),
    ]:
        out = evaluate(y, proba, **kwargs).to_dict()
        assert json.loads(json.dumps(out, allow_nan=False)) == out
        assert set(METRIC_NAMES) <= set(out)
        assert len(out["per_class"]) == len(out["classes"])


def test_custom_class_order_follows_columns():
    """Check `classes` names each column: swapped columns with swapped classes change nothing."""
    proba = np.column_stack([1 - P_ONE, P_ONE])
    sorted_report = evaluate(Y_STR, proba)
    swapped = evaluate(Y_STR, proba[:, ::-1], classes=["pos", "neg"])
    for name in (*METRIC_NAMES, "accuracy"):
        assert getattr(swapped, name) == pytest.approx(getattr(sorted_report, name)), (
            name
        )
    assert_array_equal(
        swapped.confusion_matrix, sorted_report.confusion_matrix[::-1, ::-1]
    )
    assert swapped.classes.tolist() == ["pos", "neg"]


def test_multiclass_uses_argmax_and_no_threshold():
    """Check multi-class predictions take the most probable column, ties to the first."""
    y = [0, 1, 2, 2]
    proba = [[0.6, 0.2, 0.2], [0.4, 0.4, 0.2], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]
    report = evaluate(y, proba)
    assert_array_equal(report.confusion_matrix, [[1, 0, 0], [1, 0, 0], [0, 0, 2]])
    assert report.threshold is None
    assert "argmax" in str(report)


def test_str_and_repr_show_a_table():
    """Check the text form lists every metric, every class and the confusion matrix."""
    report = evaluate(Y_STR, P_ONE)
    text = str(report)
    assert repr(report) == text
    for name in (
        *METRIC_NAMES,
        "accuracy",
        "neg",
        "pos",
        "precision",
        "confusion matrix",
    ):
        assert name in text
    assert f"{report.mcc:.4f}" in text


def test_metric_names():
    """Check the leaderboard order and that every name is a float attribute of the report."""
    assert METRIC_NAMES == (
        "pr_auc",
        "roc_auc",
        "balanced_accuracy",
        "g_mean",
        "minority_f1",
        "macro_f1",
        "mcc",
    )
    report = evaluate(Y_STR, P_ONE)
    assert all(isinstance(getattr(report, name), float) for name in METRIC_NAMES)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proba", "match"),
    [
        (
            [0.1, 1.2, 0.3, 0.4],
            r"in \[0, 1\]; 1 value\(s\) are outside \(first at row 1: 1.2\)",
        ),
        ([0.1, -0.2, 0.3, 0.4], r"outside \(first at row 1: -0.2\)"),
        ([0.1, 0.2, np.nan, 0.4], r"`proba` contains 1 NaN or inf .*row 2"),
        ([0.1, 0.2, np.inf, 0.4], r"`proba` contains 1 NaN or inf"),
        (np.zeros((4, 2, 2)), r"Received: proba with shape \(4, 2, 2\)"),
        ([0.1, 0.2, 0.3], r"y_true with 4 rows and proba with 3 rows"),
        (["a", "b", "c", "d"], r"must hold probabilities \(numbers\)"),
    ],
)
def test_bad_proba(proba, match):
    with pytest.raises(DataError, match=match):
        evaluate([0, 0, 1, 1], proba)


@pytest.mark.parametrize("threshold", [1.5, -0.1, "0.5", True, None, float("nan")])
def test_bad_threshold(threshold):
    with pytest.raises(
        InvalidParameterError, match=r"`threshold` must be a number between 0"
    ):
        evaluate([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], threshold=threshold)


def test_threshold_with_multiclass_raises():
    with pytest.raises(
        InvalidParameterError, match=r"binary targets only.*threshold=0.3"
    ):
        evaluate([0, 1, 2], np.eye(3), threshold=0.3)


def test_columns_do_not_match_classes():
    with pytest.raises(
        DataError, match=r"`proba` gives 3 classes but `y_true` holds 2"
    ):
        evaluate([0, 1, 0, 1], np.full((4, 3), 1 / 3))
    with pytest.raises(DataError, match=r"one class per column .*classes=\[0, 1, 2\]"):
        evaluate([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], classes=[0, 1, 2])
    with pytest.raises(
        DataError, match=r"`y_true` contains label\(s\) \['c'\] that are not in"
    ):
        evaluate(["a", "b", "c"], np.eye(2)[[0, 1, 0]], classes=["a", "b"])


def test_class_absent_from_y_true_raises():
    """Check the documented choice: a listed class absent from y_true raises, naming it."""
    with pytest.raises(
        DataError, match=r"Class\(es\) \[2\] of \[0, 1, 2\] have no rows"
    ):
        evaluate([0, 1, 0, 1], np.full((4, 3), 1 / 3), classes=[0, 1, 2])
