"""Tests of the metric functions against scikit-learn / imbalanced-learn and hand-worked values."""

from __future__ import annotations

import math
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
from balanceflow.metrics import (
    average_precision,
    balanced_accuracy,
    confusion_matrix,
    geometric_mean,
    macro_f1,
    matthews_corrcoef,
    minority_f1,
    per_class_recall,
    precision_recall_f1,
    roc_auc,
)

ATOL = 1e-10
FAST = settings(max_examples=50, deadline=None)

# Deliberately unsorted and non-contiguous, so that label encoding is exercised.
POOLS = {
    "int": [7, -2, 5, 0],
    "str": ["dog", "b", "a", "cat"],
}


def _pool(draw, kind: str, n_classes: int) -> list:
    if kind == "bool":
        return [False, True]
    return POOLS[kind][:n_classes]


@st.composite
def label_pairs(draw, max_classes: int = 4):
    """(y_true, y_pred) of one label kind; y_pred may hold classes absent from y_true."""
    kind = draw(st.sampled_from(["int", "str", "bool"]))
    pool = _pool(draw, kind, draw(st.integers(2, max_classes)))
    n = draw(st.integers(1, 30))
    y_true = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    y_pred = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    return np.array(y_true), np.array(y_pred)


@st.composite
def binary_scores(draw):
    """(y_true with both classes, sorted classes, scores on a coarse grid: many ties)."""
    kind = draw(st.sampled_from(["int", "str", "bool"]))
    pool = _pool(draw, kind, 2)
    extra = draw(st.lists(st.sampled_from(pool), max_size=28))
    y = np.array(draw(st.permutations(pool + extra)))
    # k / 8 is exact in binary floating point, so 1 - score is exact too
    score = (
        np.array(draw(st.lists(st.integers(0, 8), min_size=len(y), max_size=len(y))))
        / 8
    )
    return y, np.array(sorted(pool)), score


@st.composite
def multiclass_scores(draw):
    """(y_true holding every class, sorted classes, probability rows with many ties)."""
    kind = draw(st.sampled_from(["int", "str"]))
    pool = _pool(draw, kind, draw(st.integers(3, 4)))
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


def _minority(y) -> object:
    """Least frequent class of y; ties -> the highest label (computed without numpy)."""
    counts = Counter(np.asarray(y).tolist())
    smallest = min(counts.values())
    return max(label for label in counts if counts[label] == smallest)


# ---------------------------------------------------------------------------------------------
# Label metrics equal scikit-learn / imbalanced-learn
# ---------------------------------------------------------------------------------------------


@FAST
@given(label_pairs())
def test_confusion_matrix_matches_sklearn(pair):
    """Check that the confusion matrix equals scikit-learn's (sorted union of labels)."""
    y_true, y_pred = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "A single label was found"
        expected = skm.confusion_matrix(y_true, y_pred)
    assert_array_equal(confusion_matrix(y_true, y_pred), expected)


@FAST
@given(label_pairs(max_classes=3), st.data())
def test_confusion_matrix_labels_follow_given_order(pair, data):
    """Check that `labels` can add an absent class and choose the row/column order."""
    y_true, y_pred = pair
    present = np.unique(np.concatenate([y_true, y_pred])).tolist()
    kind_pool = POOLS["str"] if y_true.dtype.kind == "U" else POOLS["int"]
    if y_true.dtype.kind == "b":
        kind_pool = [False, True]
    full = sorted(set(present) | set(kind_pool))
    labels = data.draw(st.permutations(full))
    expected = skm.confusion_matrix(y_true, y_pred, labels=labels)
    assert_array_equal(confusion_matrix(y_true, y_pred, labels=labels), expected)


@FAST
@given(label_pairs())
def test_precision_recall_f1_matches_sklearn(pair):
    """Check per-class precision, recall, F1 and support against scikit-learn (zero_division=0)."""
    y_true, y_pred = pair
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, zero_division=0
    )
    got = precision_recall_f1(y_true, y_pred)
    assert set(got) == {"precision", "recall", "f1", "support"}
    assert_allclose(got["precision"], precision, rtol=0, atol=ATOL)
    assert_allclose(got["recall"], recall, rtol=0, atol=ATOL)
    assert_allclose(got["f1"], f1, rtol=0, atol=ATOL)
    assert_array_equal(got["support"], support)


@FAST
@given(label_pairs())
def test_per_class_recall_and_macro_f1_match_sklearn(pair):
    """Check per-class recall and macro F1 against scikit-learn."""
    y_true, y_pred = pair
    expected_recall = skm.recall_score(y_true, y_pred, average=None, zero_division=0)
    assert_allclose(
        per_class_recall(y_true, y_pred), expected_recall, rtol=0, atol=ATOL
    )
    expected_f1 = skm.f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert macro_f1(y_true, y_pred) == pytest.approx(expected_f1, abs=ATOL)


@FAST
@given(label_pairs())
def test_balanced_accuracy_and_mcc_match_sklearn(pair):
    """Check balanced accuracy and MCC (binary and multi-class) against scikit-learn."""
    y_true, y_pred = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "y_pred contains classes not in y_true"
        expected_bacc = skm.balanced_accuracy_score(y_true, y_pred)
        expected_mcc = skm.matthews_corrcoef(
            y_true, y_pred
        )  # "A single label was found"
    assert balanced_accuracy(y_true, y_pred) == pytest.approx(expected_bacc, abs=ATOL)
    assert matthews_corrcoef(y_true, y_pred) == pytest.approx(expected_mcc, abs=ATOL)


@FAST
@given(label_pairs())
def test_geometric_mean_matches_imblearn_over_true_classes(pair):
    """Check G-mean against imbalanced-learn over the classes present in y_true."""
    y_true, y_pred = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # log(0) inside scipy's gmean
        expected = geometric_mean_score(
            y_true, y_pred, average="multiclass", labels=np.unique(y_true)
        )
    assert geometric_mean(y_true, y_pred) == pytest.approx(expected, abs=ATOL)


@FAST
@given(label_pairs(), st.data())
def test_geometric_mean_matches_imblearn_default(pair, data):
    """Check G-mean equals imbalanced-learn's default when y_pred only uses classes of y_true."""
    y_true, _ = pair
    present = sorted(set(y_true.tolist()))
    y_pred = np.array(
        data.draw(
            st.lists(
                st.sampled_from(present), min_size=len(y_true), max_size=len(y_true)
            )
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = geometric_mean_score(y_true, y_pred, average="multiclass")
    assert geometric_mean(y_true, y_pred) == pytest.approx(expected, abs=ATOL)


@FAST
@given(label_pairs())
def test_minority_f1_matches_sklearn_f1_of_least_frequent_class(pair):
    """Check minority F1 is scikit-learn's F1 of the least frequent class (ties: the
    label sorted last, balanceflow's one tie rule)."""
    y_true, y_pred = pair
    minority = _minority(y_true)
    expected = skm.f1_score(
        y_true, y_pred, labels=[minority], average=None, zero_division=0
    )[0]
    assert minority_f1(y_true, y_pred) == pytest.approx(expected, abs=ATOL)


@FAST
@given(label_pairs())
def test_geometric_mean_never_exceeds_balanced_accuracy(pair):
    """Check the AM-GM inequality between the two means of the same recalls."""
    y_true, y_pred = pair
    assert geometric_mean(y_true, y_pred) <= balanced_accuracy(y_true, y_pred) + 1e-12


# ---------------------------------------------------------------------------------------------
# Ranking metrics equal scikit-learn, ties included
# ---------------------------------------------------------------------------------------------


@FAST
@given(binary_scores())
def test_binary_average_precision_of_minority_matches_sklearn(case):
    """Check default binary AP is scikit-learn's AP of the minority class, for (n,) and (n, 2)."""
    y, classes, score = case
    minority = _minority(y)
    minority_score = score if minority == classes[1] else 1 - score
    expected = skm.average_precision_score(y == minority, minority_score)
    assert average_precision(y, score) == pytest.approx(expected, abs=ATOL)
    two_columns = np.column_stack([1 - score, score])
    assert average_precision(y, two_columns) == pytest.approx(expected, abs=ATOL)


@FAST
@given(binary_scores())
def test_binary_average_precision_with_pos_label_matches_sklearn(case):
    """Check AP of each class given as `pos_label` against scikit-learn."""
    y, classes, score = case
    for index, label in enumerate(classes.tolist()):
        label_score = score if index == 1 else 1 - score
        expected = skm.average_precision_score(y == label, label_score)
        got = average_precision(y, score, pos_label=label)
        assert got == pytest.approx(expected, abs=ATOL)


@FAST
@given(binary_scores())
def test_binary_roc_auc_matches_sklearn(case):
    """Check binary ROC-AUC against scikit-learn, for (n,) and (n, 2) scores."""
    y, classes, score = case
    expected = skm.roc_auc_score(y == classes[1], score)
    assert roc_auc(y, score) == pytest.approx(expected, abs=ATOL)
    assert roc_auc(y, np.column_stack([1 - score, score])) == pytest.approx(
        expected, abs=ATOL
    )


@FAST
@given(multiclass_scores())
def test_multiclass_ranking_metrics_match_sklearn_macro_ovr(case):
    """Check multi-class AP and ROC-AUC against scikit-learn's macro one-vs-rest averages."""
    y, classes, proba = case
    expected_ap = skm.average_precision_score(
        label_binarize(y, classes=classes), proba, average="macro"
    )
    expected_auc = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert average_precision(y, proba) == pytest.approx(expected_ap, abs=ATOL)
    assert roc_auc(y, proba) == pytest.approx(expected_auc, abs=ATOL)


@FAST
@given(multiclass_scores(), st.data())
def test_ranking_labels_name_the_columns(case, data):
    """Check that `labels` maps permuted columns back to their classes."""
    y, classes, proba = case
    perm = np.array(data.draw(st.permutations(range(len(classes)))))
    labels = classes[perm]
    assert average_precision(y, proba[:, perm], labels=labels) == pytest.approx(
        average_precision(y, proba), abs=ATOL
    )
    assert roc_auc(y, proba[:, perm], labels=labels) == pytest.approx(
        roc_auc(y, proba), abs=ATOL
    )


@FAST
@given(binary_scores())
def test_roc_auc_of_reversed_scores_is_complement(case):
    """Check that reversing the ranking turns AUC into 1 - AUC (ties count one half)."""
    y, _, score = case
    assert roc_auc(y, score) + roc_auc(y, -score) == pytest.approx(1.0, abs=ATOL)


# ---------------------------------------------------------------------------------------------
# Values worked out by hand
# ---------------------------------------------------------------------------------------------

# tn=5, fp=1, fn=2, tp=2
HAND_TRUE = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
HAND_PRED = [0, 0, 0, 0, 0, 1, 0, 0, 1, 1]


def test_hand_worked_binary_confusion_metrics():
    """Check a 2x2 case worked out by hand: confusion matrix, MCC, G-mean, F1."""
    assert_array_equal(confusion_matrix(HAND_TRUE, HAND_PRED), [[5, 1], [2, 2]])
    # (tp tn - fp fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (10 - 2) / sqrt(3 * 4 * 6 * 7)
    assert matthews_corrcoef(HAND_TRUE, HAND_PRED) == pytest.approx(8 / math.sqrt(504))
    # sqrt(sensitivity * specificity) = sqrt(2/4 * 5/6)
    assert geometric_mean(HAND_TRUE, HAND_PRED) == pytest.approx(math.sqrt(5 / 12))
    assert balanced_accuracy(HAND_TRUE, HAND_PRED) == pytest.approx((2 / 4 + 5 / 6) / 2)
    # class 1: precision 2/3, recall 1/2 -> F1 = 2 tp / (2 tp + fp + fn) = 4/7
    assert minority_f1(HAND_TRUE, HAND_PRED) == pytest.approx(4 / 7)
    assert macro_f1(HAND_TRUE, HAND_PRED) == pytest.approx((10 / 13 + 4 / 7) / 2)


def test_hand_worked_extremes():
    """Check MCC is 1 for perfect, -1 for inverted and 0 for constant predictions."""
    assert matthews_corrcoef([0, 1, 2, 2], [0, 1, 2, 2]) == pytest.approx(1.0)
    assert matthews_corrcoef([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(-1.0)
    assert matthews_corrcoef([0, 0, 1, 1], [0, 0, 0, 0]) == 0.0
    assert geometric_mean([0, 0, 0, 1], [0, 0, 0, 0]) == 0.0


def test_minority_tie_goes_to_the_label_sorted_last():
    """Check that with two equally rare classes, the label sorted last is the minority
    (as scikit-learn's default pos_label=1 of {0, 1})."""
    y_true = ["c", "c", "c", "b", "b", "a", "a"]
    y_pred = ["c", "c", "c", "b", "c", "a", "a"]  # F1(a) = 1, F1(b) = 2/3
    assert minority_f1(y_true, y_pred) == pytest.approx(2 / 3)
    assert minority_f1([0, 0, 1, 1], [0, 1, 1, 1]) == pytest.approx(0.8)  # F1 of 1


def test_hand_worked_average_precision():
    """Check AP on hand-worked rankings, with and without tied scores."""
    # ranks: + - + -  -> 1/2 * 1 + 1/2 * 2/3
    assert average_precision(
        [1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], pos_label=1
    ) == pytest.approx(5 / 6)
    # a tie at 0.5 between a positive and a negative enters as one step: P = 1/2 at R = 1/2
    assert average_precision([1, 0, 1], [0.5, 0.5, 0.2], pos_label=1) == pytest.approx(
        7 / 12
    )


def test_average_precision_defaults_to_minority_class():
    """Check the default positive class is the minority, ranked by -score when it is class 0."""
    score = [0.9, 0.05, 0.6, 0.1]
    # class 1 is the minority: AP of class 1, ranked by score
    assert average_precision([0, 0, 0, 1], score) == average_precision(
        [0, 0, 0, 1], score, pos_label=1
    )
    # class 0 is the minority: ranked by 1 - score, the first row (s=0.05) is class 1 and the
    # second (s=0.1) is the class-0 row: AP = 1/2
    assert average_precision([1, 1, 1, 0], score) == pytest.approx(0.5)


def test_hand_worked_roc_auc():
    """Check ROC-AUC on hand-worked pairs, ties counting one half."""
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # pairs (pos, neg): (0.5, 0.5) -> 1/2, (0.5, 0.2) -> 1, (0.9, *) -> 2: 3.5 / 4
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875)


def test_string_and_bool_labels():
    """Check string and bool labels give the same values as their integer codes."""
    y_true = [0, 0, 0, 1, 1, 0]
    y_pred = [0, 1, 0, 1, 0, 0]
    score = [0.1, 0.7, 0.2, 0.8, 0.4, 0.3]
    as_str = np.array(["neg", "pos"])
    as_bool = np.array([False, True])
    for mapping in (as_str, as_bool):
        t, p = mapping[y_true], mapping[y_pred]
        assert matthews_corrcoef(t, p) == pytest.approx(
            matthews_corrcoef(y_true, y_pred)
        )
        assert_array_equal(confusion_matrix(t, p), confusion_matrix(y_true, y_pred))
        assert average_precision(t, score) == pytest.approx(
            average_precision(y_true, score)
        )
        assert roc_auc(t, score) == pytest.approx(roc_auc(y_true, score))


def test_pandas_and_object_labels_are_accepted():
    """Check that an object-dtype array of strings is treated like a string array."""
    y_true = np.array(["a", "b", "b", "a"], dtype=object)
    assert_array_equal(confusion_matrix(y_true, ["a", "b", "a", "a"]), [[2, 0], [1, 1]])


# ---------------------------------------------------------------------------------------------
# Errors name the parameter and show the value
# ---------------------------------------------------------------------------------------------


def test_error_lengths_differ():
    with pytest.raises(DataError, match="y_true with 3 rows and y_pred with 2 rows"):
        confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(DataError, match="y_true with 2 rows and y_score with 3 rows"):
        roc_auc([0, 1], [0.1, 0.2, 0.3])


def test_error_score_columns_do_not_match_classes():
    with pytest.raises(DataError, match=r"one column per class .*shape \(4, 2\)"):
        roc_auc([0, 1, 2, 0], np.full((4, 2), 0.5))
    with pytest.raises(DataError, match=r"pass `labels` with the full class list"):
        average_precision([0, 1, 0, 1], np.full((4, 3), 1 / 3))
    with pytest.raises(DataError, match=r"only valid for binary targets"):
        average_precision([0, 1, 2, 0], [0.1, 0.2, 0.3, 0.4])


def test_error_nan_in_scores():
    with pytest.raises(DataError, match=r"y_score` contains 1 NaN or inf .*row 2"):
        roc_auc([0, 1, 0, 1], [0.1, 0.2, np.nan, 0.4])
    with pytest.raises(DataError, match=r"must hold numbers"):
        average_precision([0, 1], ["high", "low"])


def test_error_single_class_for_ranking_metrics():
    with pytest.raises(
        DataError, match=r"roc_auc is undefined .*single class.*only class 1"
    ):
        roc_auc([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(
        DataError, match=r"average_precision is undefined .*single class"
    ):
        average_precision([1, 1, 1], [0.1, 0.2, 0.3])


def test_error_class_absent_from_y_true():
    """Check an absent class raises, even when `labels` lists it (documented choice)."""
    proba = np.full((4, 3), 1 / 3)
    with pytest.raises(DataError, match=r"absent from `y_true`: class\(es\) \[2\]"):
        average_precision([0, 1, 0, 1], proba, labels=[0, 1, 2])
    with pytest.raises(DataError, match=r"absent from `y_true`: class\(es\) \[2\]"):
        roc_auc([0, 1, 0, 1], proba, labels=[0, 1, 2])


def test_error_labels_miss_a_present_label():
    with pytest.raises(
        DataError, match=r"`y_true` contains label\(s\) \[2\] that are not in"
    ):
        confusion_matrix([0, 1, 2], [0, 1, 1], labels=[0, 1])
    with pytest.raises(
        InvalidParameterError, match=r"must not repeat .*labels=\[0, 1, 1\]"
    ):
        confusion_matrix([0, 1], [0, 1], labels=[0, 1, 1])
    with pytest.raises(InvalidParameterError, match=r"non-empty 1-D .*labels=\[\]"):
        precision_recall_f1([0, 1], [0, 1], labels=[])


def test_error_mixed_label_kinds():
    with pytest.raises(
        DataError,
        match=r"y_true with string labels \(e.g. 'a'\), y_pred with number labels \(e.g. 0\)",
    ):
        confusion_matrix(["a", "b"], [0, 1])


def test_error_pos_label():
    with pytest.raises(
        InvalidParameterError, match=r"one of the classes \[0, 1\].*pos_label=5"
    ):
        average_precision([0, 1, 1], [0.2, 0.3, 0.4], pos_label=5)
    with pytest.raises(
        InvalidParameterError, match=r"only used for binary .*pos_label=1"
    ):
        average_precision([0, 1, 2], np.eye(3), pos_label=1)


def test_error_bad_label_shape():
    with pytest.raises(DataError, match=r"y_true` must hold one label per row"):
        balanced_accuracy(np.zeros((2, 2, 2)), [0, 1])
