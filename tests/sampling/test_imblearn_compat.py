"""balanceflow's samplers are drop-in imbalanced-learn samplers: imbalanced-learn's and
scikit-learn's common checks, and the behaviour of imbalanced-learn's random samplers.

Not applicable, and why:
- scikit-learn's ``check_fit1d`` expects a 1-D ``X`` to be refused. balanceflow's samplers
  select rows of arrays of any rank, 1-D included (an array of file paths or ids, whose
  rows a tf.data pipeline then reads), so a 1-D X is accepted on purpose.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from imblearn.over_sampling import RandomOverSampler as ImbOver
from imblearn.pipeline import make_pipeline
from imblearn.under_sampling import RandomUnderSampler as ImbUnder
from imblearn.utils.estimator_checks import (
    parametrize_with_checks as imblearn_checks,
)
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks as sklearn_checks

from balanceflow.exceptions import InvalidParameterError
from balanceflow.sampling import RandomOverSampler, RandomUnderSampler

SAMPLERS = [RandomOverSampler(random_state=0), RandomUnderSampler(random_state=0)]
NOT_APPLICABLE = {
    "check_fit1d": "1-D X is a column of rows (paths, ids) that balanceflow resamples"
}


@imblearn_checks(SAMPLERS)
def test_imbalanced_learn_common_checks(estimator, check):
    check(estimator)


@sklearn_checks(SAMPLERS, expected_failed_checks=lambda e: NOT_APPLICABLE)
def test_scikit_learn_common_checks(estimator, check):
    check(estimator)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.array([0] * 50 + [1] * 15 + [2] * 5)
    X = rng.normal(size=(len(y), 3))
    return X, y


PAIRS = [(RandomOverSampler, ImbOver), (RandomUnderSampler, ImbUnder)]


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
@pytest.mark.parametrize(
    "strategy",
    ["auto", "all", "not minority", "not majority", {0: 50, 1: 30, 2: 20}],
)
def test_counts_and_sampling_strategy_match_imbalanced_learn(
    data, ours, theirs, strategy
):
    """Check class counts after resampling and the meaning of sampling_strategy_ against
    imbalanced-learn's own samplers (rows differ: the random draws are not the same)."""
    X, y = data
    if theirs is ImbUnder and isinstance(strategy, dict):
        strategy = {0: 20, 1: 10, 2: 5}
    if strategy in ("not minority",) and theirs is ImbOver:
        strategy = "not majority"
    mine = ours(sampling_strategy=strategy, random_state=0)
    peer = theirs(sampling_strategy=strategy, random_state=0)
    _, y_mine = mine.fit_resample(X, y)
    _, y_peer = peer.fit_resample(X, y)
    assert np.bincount(y_mine).tolist() == np.bincount(y_peer).tolist()
    assert dict(mine.sampling_strategy_) == dict(peer.sampling_strategy_)


def test_binary_float_strategy_matches_imbalanced_learn():
    y = np.array([0] * 40 + [1] * 8)
    X = np.zeros((48, 2))
    for ours, theirs in PAIRS:
        _, mine = ours(sampling_strategy=0.5, random_state=1).fit_resample(X, y)
        _, peer = theirs(sampling_strategy=0.5, random_state=1).fit_resample(X, y)
        assert np.bincount(mine).tolist() == np.bincount(peer).tolist()


def test_over_sampling_keeps_every_row_and_repeats_only_grown_classes(data):
    X, y = data
    sampler = RandomOverSampler(random_state=3).fit(X, y)
    assert sampler.sampling_strategy_ == {
        1: 35,
        2: 45,
    }  # rows to add (imblearn's meaning)
    assert sampler.target_counts_ == {1: 50, 2: 50}
    X_res, _y_res = sampler.fit_resample(X, y)
    idx = sampler.sample_indices_
    np.testing.assert_array_equal(idx[: len(y)], np.arange(len(y)))  # originals first
    assert set(y[idx[len(y) :]]) <= {1, 2}  # with replacement, only grown classes
    np.testing.assert_array_equal(X_res, X[idx])


def test_under_sampling_draws_without_replacement(data):
    X, y = data
    sampler = RandomUnderSampler(random_state=3)
    _X_res, y_res = sampler.fit_resample(X, y)
    idx = sampler.sample_indices_
    assert len(set(idx.tolist())) == len(idx)  # no row twice
    assert np.bincount(y_res).tolist() == [5, 5, 5]
    assert sampler.sampling_strategy_ == {0: 5, 1: 5}  # rows to keep


@pytest.mark.parametrize("cls", [RandomOverSampler, RandomUnderSampler])
def test_pandas_in_pandas_out(data, cls):
    X, y = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(100, 170))
    series = pd.Series(y, index=frame.index, name="label")
    X_res, y_res = cls(random_state=0).fit_resample(frame, series)
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert list(X_res.columns) == ["a", "b", "c"] and y_res.name == "label"
    assert (X_res.index == y_res.index).all()
    assert (X_res.index.isin(frame.index)).all()


@pytest.mark.parametrize("cls", [RandomOverSampler, RandomUnderSampler])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_in_sparse_out_with_the_dense_rows(data, cls, fmt):
    _X, y = data
    X_sparse = sp.random(len(y), 6, density=0.3, format=fmt, random_state=0)
    X_res, _ = cls(random_state=2).fit_resample(X_sparse, y)
    dense_res, _ = cls(random_state=2).fit_resample(X_sparse.toarray(), y)
    assert sp.issparse(X_res) and X_res.format == fmt
    np.testing.assert_array_equal(X_res.toarray(), dense_res)


def test_random_state_and_seed_are_one_parameter(data):
    X, y = data
    by_state = RandomUnderSampler(random_state=5).fit_resample(X, y)[1]
    by_seed = RandomUnderSampler(seed=5).fit_resample(X, y)[1]
    np.testing.assert_array_equal(by_state, by_seed)
    with pytest.raises(InvalidParameterError, match="not both"):
        RandomUnderSampler(random_state=1, seed=1).fit_resample(X, y)


@pytest.mark.parametrize("cls", [RandomOverSampler, RandomUnderSampler])
def test_continuous_targets_are_refused_as_imbalanced_learn_refuses_them(data, cls):
    X, _ = data
    y = np.linspace(0, 1, len(X))
    with pytest.raises(ValueError, match="continuous"):
        cls().fit_resample(X, y)
    with pytest.raises(ValueError):
        ImbOver().fit_resample(X, y)


def test_samplers_work_inside_an_imbalanced_learn_pipeline(data):
    X, y = data
    pipeline = make_pipeline(RandomUnderSampler(random_state=0), LogisticRegression())
    pipeline.fit(X, y)
    assert pipeline.predict(X).shape == (len(y),)
