"""Each loss against an independent numpy implementation, and the mathematical identities
that tie the losses to the plain cross-entropy."""

import keras
import numpy as np
import pytest

from balanceflow import class_weight
from balanceflow.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    balanced_softmax_loss,
    class_balanced_loss,
    class_balanced_weights,
    focal_loss,
    ldam_loss,
    ldam_margins,
    logit_adjusted_loss,
    weighted,
)

COUNTS = np.array([50, 12, 3])
K = len(COUNTS)


def np_log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def np_ce(y, z):
    """Softmax cross-entropy from integer labels and logits, one value per row."""
    return -np_log_softmax(z)[np.arange(len(y)), y]


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def np_effective_number_weights(counts, beta):
    raw = (1.0 - beta) / (1.0 - beta ** np.asarray(counts, dtype=np.float64))
    return raw / raw.sum() * len(counts)


def batch(seed=0, n=8, k=K):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, k)).astype("float32")
    labels = rng.integers(0, k, size=n)
    return labels, logits


def value(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype=np.float64)


def softmax(z):
    return np.exp(np_log_softmax(z)).astype("float32")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_matches_numpy_for_sparse_and_one_hot(seed, gamma):
    y, z = batch(seed)
    alpha = [0.2, 0.3, 0.5]
    p = np.exp(np_log_softmax(z))[np.arange(len(y)), y]
    expected = -np.asarray(alpha)[y] * (1 - p) ** gamma * np.log(p)
    got = focal_loss(y, z, gamma=gamma, alpha=alpha, from_logits=True)
    np.testing.assert_allclose(value(got), expected, rtol=1e-5, atol=1e-6)
    one_hot = np.eye(K, dtype="float32")[y]
    loss = FocalLoss(gamma=gamma, alpha=alpha, from_logits=True, reduction=None)
    np.testing.assert_allclose(value(loss(one_hot, z)), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("alpha", [None, 0.25, 0.9])
def test_binary_focal_matches_lins_sigmoid_formula(alpha):
    """Check the single-logit case against -alpha_t (1 - p_t)^gamma log p_t of Lin et al."""
    rng = np.random.default_rng(3)
    z = rng.normal(scale=2.0, size=(10, 1)).astype("float32")
    y = rng.integers(0, 2, size=10)
    p = np_sigmoid(z[:, 0])
    p_t = np.where(y == 1, p, 1 - p)
    a_t = 1.0 if alpha is None else np.where(y == 1, alpha, 1 - alpha)
    expected = -a_t * (1 - p_t) ** 2.0 * np.log(p_t)
    got = focal_loss(y, z, gamma=2.0, alpha=alpha, from_logits=True)
    np.testing.assert_allclose(value(got), expected, rtol=1e-5, atol=1e-6)


def test_binary_focal_alpha_agrees_with_keras_class_balancing():
    """Check that a float alpha means what Keras' apply_class_balancing=True means (alpha
    for the positives), which Keras silently ignores without that flag."""
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, size=(12, 1)).astype("float32")
    y = rng.integers(0, 2, size=(12, 1)).astype("float32")
    ours = FocalLoss(gamma=1.5, alpha=0.8)(y, p)
    theirs = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=0.8, gamma=1.5
    )(y, p)
    np.testing.assert_allclose(value(ours), value(theirs), rtol=1e-5)


def test_balanced_alpha_is_scikit_learn_balanced_weight():
    y_train = np.repeat(np.arange(K), COUNTS)
    balanced = class_weight(y_train, method="balanced")
    y, z = batch(5)
    got = focal_loss(
        y, z, gamma=0.0, alpha="balanced", class_counts=COUNTS, from_logits=True
    )
    expected = np.array([balanced[c] for c in y]) * np_ce(y, z)
    np.testing.assert_allclose(value(got), expected, rtol=1e-5)


@pytest.mark.parametrize("base", ["ce", "focal"])
@pytest.mark.parametrize("beta", [0.9, 0.999])
def test_class_balanced_matches_numpy(base, beta):
    y, z = batch(6)
    w = np_effective_number_weights(COUNTS, beta)
    p = np.exp(np_log_softmax(z))[np.arange(len(y)), y]
    gamma = 2.0 if base == "focal" else 0.0
    expected = -w[y] * (1 - p) ** gamma * np.log(p)
    got = class_balanced_loss(
        y, z, class_counts=COUNTS, beta=beta, base=base, from_logits=True
    )
    np.testing.assert_allclose(value(got), expected, rtol=1e-5, atol=1e-6)


def test_class_balanced_weights_equal_the_effective_number_class_weight():
    y_train = np.repeat(np.arange(K), COUNTS)
    expected = class_weight(y_train, method="effective_number", beta=0.99)
    np.testing.assert_allclose(
        class_balanced_weights(COUNTS, beta=0.99), list(expected.values())
    )


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_logit_adjusted_matches_numpy(tau):
    y, z = batch(7)
    priors = COUNTS / COUNTS.sum()
    expected = -np_log_softmax(z + tau * np.log(priors))[np.arange(len(y)), y]
    got = logit_adjusted_loss(y, z, class_priors=priors, tau=tau, from_logits=True)
    np.testing.assert_allclose(value(got), expected, rtol=1e-5)


def test_balanced_softmax_matches_numpy():
    y, z = batch(8)
    e = COUNTS * np.exp(z.astype(np.float64))
    expected = -np.log(e[np.arange(len(y)), y] / e.sum(axis=1))
    got = balanced_softmax_loss(y, z, class_counts=COUNTS, from_logits=True)
    np.testing.assert_allclose(value(got), expected, rtol=1e-5)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_ldam_matches_numpy(scale):
    y, z = batch(9)
    z = np.tanh(z)  # cosine-like logits, as in the paper
    m = COUNTS**-0.25
    m = m / m.max() * 0.5
    shifted = z.astype(np.float64).copy()
    shifted[np.arange(len(y)), y] -= m[y]
    expected = -np_log_softmax(scale * shifted)[np.arange(len(y)), y]
    got = ldam_loss(y, z, class_counts=COUNTS, scale=scale, from_logits=True)
    np.testing.assert_allclose(value(got), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ldam_margins(COUNTS), m)
    w = [0.5, 1.0, 3.0]
    got_w = ldam_loss(
        y, z, class_counts=COUNTS, scale=scale, class_weight=w, from_logits=True
    )
    np.testing.assert_allclose(
        value(got_w), np.asarray(w)[y] * expected, rtol=1e-4, atol=1e-5
    )


# --- identities: each loss reduces to Keras' cross-entropy --------------------------------

IDENTITY_LOSSES = {
    "focal gamma=0": lambda fl: FocalLoss(gamma=0.0, from_logits=fl),
    "logit-adjusted tau=0": lambda fl: LogitAdjustedLoss(
        COUNTS / COUNTS.sum(), tau=0.0, from_logits=fl
    ),
    "balanced softmax, equal counts": lambda fl: BalancedSoftmaxLoss(
        [7, 7, 7], from_logits=fl
    ),
    "LDAM margin 0, scale 1": lambda fl: LDAMLoss(
        COUNTS, max_margin=0.0, scale=1.0, from_logits=fl
    ),
    "class-balanced beta=0": lambda fl: ClassBalancedLoss(
        COUNTS, beta=0.0, from_logits=fl
    ),
    "weighted, all weights 1": lambda fl: weighted(
        keras.losses.SparseCategoricalCrossentropy(from_logits=fl), [1.0, 1.0, 1.0]
    ),
}


@pytest.mark.parametrize("name", list(IDENTITY_LOSSES))
@pytest.mark.parametrize("from_logits", [True, False])
def test_identities_with_cross_entropy(name, from_logits):
    y, z = batch(10, n=16)
    y_pred = z if from_logits else softmax(z)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    loss = IDENTITY_LOSSES[name](from_logits)
    np.testing.assert_allclose(
        value(loss(y, y_pred)), value(ce(y, y_pred)), rtol=1e-5, atol=1e-6
    )
    if name == "weighted, all weights 1":
        return
    one_hot = np.eye(K, dtype="float32")[y]
    cce = keras.losses.CategoricalCrossentropy(from_logits=from_logits)
    np.testing.assert_allclose(
        value(loss(one_hot, y_pred)), value(cce(one_hot, y_pred)), rtol=1e-5
    )


@pytest.mark.parametrize("from_logits", [True, False])
def test_binary_identities_with_binary_cross_entropy(from_logits):
    rng = np.random.default_rng(11)
    z = rng.normal(size=(16, 1)).astype("float32")
    y = rng.integers(0, 2, size=16)
    y_pred = z if from_logits else np_sigmoid(z).astype("float32")
    bce = keras.losses.BinaryCrossentropy(from_logits=from_logits)
    expected = value(bce(y[:, None].astype("float32"), y_pred))
    for loss in [
        FocalLoss(gamma=0.0, from_logits=from_logits),
        LogitAdjustedLoss([0.9, 0.1], tau=0.0, from_logits=from_logits),
        BalancedSoftmaxLoss([5, 5], from_logits=from_logits),
        LDAMLoss([90, 10], max_margin=0.0, scale=1.0, from_logits=from_logits),
        ClassBalancedLoss([90, 10], beta=0.0, from_logits=from_logits),
        weighted(keras.losses.BinaryCrossentropy(from_logits=from_logits), [1, 1]),
    ]:
        np.testing.assert_allclose(value(loss(y, y_pred)), expected, rtol=1e-5)


def test_focal_gamma_zero_equals_keras_categorical_focal_with_alpha_one():
    y, z = batch(12)
    one_hot = np.eye(K, dtype="float32")[y]
    p = softmax(z)
    theirs = keras.losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=2.0)
    np.testing.assert_allclose(
        value(FocalLoss(gamma=2.0)(one_hot, p)), value(theirs(one_hot, p)), rtol=1e-5
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: FocalLoss(gamma=2.0, alpha=[0.2, 0.3, 0.5], reduction=None),
        lambda: ClassBalancedLoss(COUNTS, base="focal", reduction=None),
        lambda: LogitAdjustedLoss(COUNTS / COUNTS.sum(), tau=1.5, reduction=None),
        lambda: BalancedSoftmaxLoss(COUNTS, reduction=None),
        lambda: LDAMLoss(COUNTS, scale=5.0, reduction=None),
    ],
)
def test_probabilities_and_logits_give_the_same_loss(make):
    """Check that from_logits=False on softmax outputs equals from_logits=True on logits."""
    y, z = batch(13)
    on_probs = make()
    on_logits = type(on_probs).from_config(
        {**on_probs.get_config(), "from_logits": True}
    )
    np.testing.assert_allclose(
        value(on_probs(y, softmax(z))), value(on_logits(y, z)), rtol=1e-4, atol=1e-5
    )


def test_adjusted_losses_have_their_minimum_at_the_balanced_decision():
    """Check that logit-adjusted training favours rare classes: with equal logits, the loss
    of a rare-class row exceeds the loss of a head-class row."""
    z = np.zeros((2, K), dtype="float32")
    y = np.array([0, 2])
    got = value(
        LogitAdjustedLoss(COUNTS / COUNTS.sum(), from_logits=True, reduction=None)(y, z)
    )
    assert got[1] > got[0]
