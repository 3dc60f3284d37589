"""The one prior-offset operation, on numpy and on Keras tensors."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balanceflow.exceptions import InvalidParameterError
from balanceflow.weights import adjust_logits


@settings(max_examples=40, deadline=None)
@given(k=st.integers(2, 5), tau=st.floats(-2, 2), seed=st.integers(0, 1000))
def test_numpy_and_keras_agree_with_the_formula(k, tau, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(4, k))
    priors = rng.dirichlet(np.ones(k)) + 1e-3
    priors /= priors.sum()
    expected = logits + tau * np.log(priors)
    np.testing.assert_allclose(
        adjust_logits(logits, priors, tau=tau), expected, rtol=1e-12
    )
    tensor = adjust_logits(
        keras.ops.convert_to_tensor(logits, "float32"), priors, tau=tau
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), expected, atol=1e-5)


def test_single_logit_uses_the_log_odds_of_the_priors():
    """Check that shifting one sigmoid logit equals shifting the 2-logit softmax [0, z]."""
    z = np.array([[0.3], [-1.2]])
    priors = [0.8, 0.2]
    one = adjust_logits(z, priors)
    two = adjust_logits(np.hstack([np.zeros_like(z), z]), priors)
    np.testing.assert_allclose(one[:, 0], two[:, 1] - two[:, 0])


def test_bad_priors():
    with pytest.raises(InvalidParameterError, match="finite and > 0"):
        adjust_logits(np.zeros((1, 2)), [0.0, 1.0])
    with pytest.raises(InvalidParameterError, match="3 values but the logits have 2"):
        adjust_logits(np.zeros((1, 2)), [0.2, 0.3, 0.5])
    with pytest.warns(UserWarning, match="normalising"):
        out = adjust_logits(np.zeros((1, 2)), [90, 10])
    np.testing.assert_allclose(out, np.log([[0.9, 0.1]]))
    with pytest.raises(InvalidParameterError, match="tau"):
        adjust_logits(np.zeros((1, 2)), [0.5, 0.5], tau=float("nan"))
