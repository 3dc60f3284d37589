"""Bad input to the samplers gets a clear error naming the parameter and the value."""

import numpy as np
import pytest

import balanceflow as bf
from balanceflow.exceptions import DataError, InvalidParameterError

y2 = np.array([0] * 8 + [1] * 2)
y3 = np.array([0] * 6 + [1] * 3 + [2] * 1)


def test_length_mismatch():
    with pytest.raises(
        DataError, match=r"same number of rows.*X with 9 rows and y with 10"
    ):
        bf.resample(np.zeros((9, 2)), y2)


def test_single_class():
    with pytest.raises(DataError, match=r"at least 2 classes.*\[0\]"):
        bf.resample(np.zeros((5, 1)), np.zeros(5, dtype=int))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_targets(bad):
    y = np.array([0.0, 1.0, bad, 0.0])
    with pytest.raises(
        DataError, match=r"`y` contains 1 NaN or inf value\(s\) \(first at row 2"
    ):
        bf.resample(np.zeros((4, 1)), y)


def test_float_strategy_on_multiclass():
    with pytest.raises(
        InvalidParameterError, match=r"two classes only.*sampling_strategy=0.5"
    ):
        bf.resample(np.zeros((10, 1)), y3, sampling_strategy=0.5)


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_ratio_outside_unit_interval(ratio):
    with pytest.raises(
        InvalidParameterError, match=rf"in \(0, 1\].*sampling_strategy={ratio}"
    ):
        bf.resample(np.zeros((10, 1)), y2, sampling_strategy=ratio)


def test_ratio_below_current_ratio():
    with pytest.raises(InvalidParameterError, match="cannot remove rows"):
        bf.resample(np.zeros((10, 1)), y2, method="over", sampling_strategy=0.1)
    with pytest.raises(InvalidParameterError, match="cannot add rows"):
        bf.resample(np.zeros((10, 1)), y2, method="under", sampling_strategy=0.1)


def test_dict_with_unknown_class():
    with pytest.raises(
        InvalidParameterError, match=r"names class 'cat'.*classes in y are \[0, 1\]"
    ):
        bf.resample(np.zeros((10, 1)), y2, sampling_strategy={"cat": 4})


def test_under_sampler_asked_to_grow():
    with pytest.raises(
        InvalidParameterError, match=r"under-sampler to grow class 1 from 2 to 5"
    ):
        bf.resample(np.zeros((10, 1)), y2, method="under", sampling_strategy={1: 5})


def test_over_sampler_asked_to_shrink():
    with pytest.raises(
        InvalidParameterError, match=r"over-sampler to shrink class 0 from 8 to 3"
    ):
        bf.resample(np.zeros((10, 1)), y2, method="over", sampling_strategy={0: 3})


def test_unknown_keyword_and_method():
    with pytest.raises(InvalidParameterError, match=r"sampling_strategy='balanced'"):
        bf.resample(np.zeros((10, 1)), y2, sampling_strategy="balanced")
    with pytest.raises(
        InvalidParameterError, match=r"method='ovr'.*Did you mean 'over'"
    ):
        bf.resample(np.zeros((10, 1)), y2, method="ovr")


def test_bad_seed():
    with pytest.raises(InvalidParameterError, match=r"`seed`.*seed=-1"):
        bf.resample(np.zeros((10, 1)), y2, seed=-1)


def test_callable_must_return_dict():
    with pytest.raises(InvalidParameterError, match="must return a"):
        bf.resample(np.zeros((10, 1)), y2, sampling_strategy=lambda y: 3)


def test_keyword_a_sampler_cannot_act_on():
    with pytest.raises(InvalidParameterError, match=r"'majority' asks an over-sampler"):
        bf.resample(np.zeros((10, 1)), y2, method="over", sampling_strategy="majority")
    with pytest.raises(
        InvalidParameterError, match=r"'minority' asks an under-sampler"
    ):
        bf.resample(np.zeros((10, 1)), y2, method="under", sampling_strategy="minority")


def test_pandas_missing_label_is_named_missing():
    pd = pytest.importorskip("pandas")
    y = pd.Series(["a"] * 3 + ["b"] * 6 + [None], dtype="string")
    with pytest.raises(DataError, match=r"1 missing label\(s\) \(first at row 9\)"):
        bf.resample(np.zeros((10, 1)), y)
