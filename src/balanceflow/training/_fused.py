"""Many models, one step: a group of trials trained as one stacked Keras computation.

A comparison trains dozens of tiny models. One step of the default MLP is a few
microseconds of arithmetic and about a millisecond of framework overhead, so training them
one after another spends almost all its time on overhead. Here the M models of a group
become one computation: every weight gets a leading member axis (``(M, in, out)``
kernels), each step gathers each member's own batch from one shared copy of the rows
(``(M, batch, features)``), computes each member's own loss on its own rows with its own
sample weights, and updates each member with its own Adam state and step count. Many steps
run inside one ``tf.function`` call.

Members stay independent, and each gets exactly the batches the one-at-a-time path
(:func:`balanceflow.training.train_model`) would feed it: the same per-epoch row
permutations (:func:`balanceflow._models.epoch_order`), the same balanced draws
(:func:`balanceflow.data.balanced_dataset`'s plan), the same class weights, loss and
deferred re-weighting schedule. So a fused member's trained weights equal its
one-at-a-time weights up to float round-off. A member with fewer steps (an under-sampled
one) is frozen once it is done: its weights, Adam moments and step count are left exactly
as they are, not fed zero gradients. When half the members are done, the rest are repacked
into a narrower computation.

What can be stacked (:func:`stack_spec`): a compiled chain of ``Dense`` layers on rank-1
inputs (the default MLP and models like it) with a plain Adam optimizer and a single
per-sample loss, on the TensorFlow backend. Anything else trains one at a time; the reason
is returned so the driver can say which engine ran.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from balanceflow.strategies import TrainingSetup
from balanceflow.training._trial import (
    Trial,
    TrialData,
    TrialResult,
    frame_arrays,
    training_rows,
)

__all__ = ["DenseStack", "fused_results", "stack_spec"]

# Steps per tf.function call: as many as keep a chunk's index arrays near 4 MiB.
_CHUNK_ENTRIES = 2**20
_MAX_CHUNK = 256


@dataclass(frozen=True)
class DenseStack:
    """The layers of a stackable model, in order: units, activation and bias of each
    ``Dense`` layer, and the Adam settings it trains with."""

    units: tuple[int, ...]
    activations: tuple[Callable[..., Any], ...]
    use_bias: tuple[bool, ...]
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float


def stack_spec(model: Any) -> tuple[DenseStack | None, str]:
    """``(spec, "")`` when the compiled ``model`` can be trained stacked, else
    ``(None, reason)``."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return (
            None,
            f"the fused engine runs on TensorFlow (backend: {keras.backend.backend()})",
        )
    if (
        len(getattr(model, "inputs", None) or []) != 1
        or len(model.inputs[0].shape) != 2
    ):
        return None, "the model does not take one rank-1 input (a table row)"
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    if not layers or any(type(layer) is not keras.layers.Dense for layer in layers):
        names = sorted({type(layer).__name__ for layer in layers})
        return None, f"the model is not a chain of Dense layers (it has {names})"
    for layer in layers:
        extras = [
            name
            for name in (
                "kernel_regularizer",
                "bias_regularizer",
                "activity_regularizer",
                "kernel_constraint",
                "bias_constraint",
            )
            if getattr(layer, name, None) is not None
        ]
        if extras or getattr(layer, "lora_enabled", False):
            return None, f"layer {layer.name!r} has {extras or ['LoRA']}"
        if layer.dtype_policy.name != "float32" or layer.quantization_mode is not None:
            return None, f"layer {layer.name!r} is not plain float32"
    if model.losses:
        return None, "the model adds losses of its own (add_loss)"
    optimizer = model.optimizer
    if type(optimizer) is not keras.optimizers.Adam:
        return None, f"the optimizer is {type(optimizer).__name__}, not Adam"
    config = optimizer.get_config()
    changed = [
        key
        for key in (
            "weight_decay",
            "clipnorm",
            "clipvalue",
            "global_clipnorm",
            "gradient_accumulation_steps",
            "loss_scale_factor",
        )
        if config.get(key) is not None
    ]
    if config.get("amsgrad") or config.get("use_ema"):
        changed.append("amsgrad" if config.get("amsgrad") else "use_ema")
    if changed or not isinstance(config.get("learning_rate"), float):
        return (
            None,
            f"Adam is not plain (it has {changed or ['a learning-rate schedule']})",
        )
    if _compiled_loss(model.loss) is None:
        return None, f"the compiled loss {model.loss!r} is not one per-sample loss"
    spec = DenseStack(
        units=tuple(int(layer.units) for layer in layers),
        activations=tuple(layer.activation for layer in layers),
        use_bias=tuple(bool(layer.use_bias) for layer in layers),
        learning_rate=float(config["learning_rate"]),
        beta_1=float(config["beta_1"]),
        beta_2=float(config["beta_2"]),
        epsilon=float(config["epsilon"]),
    )
    # The layers must form a chain: the stacked forward pass must be the model's.
    probe = np.random.default_rng(0).normal(size=(7, model.inputs[0].shape[1]))
    probe = probe.astype(np.float32)
    weights = _member_weights(model)
    ours = _forward_once(spec, weights, probe)
    theirs = keras.ops.convert_to_numpy(model(probe, training=False))
    if ours.shape != theirs.shape or not np.allclose(
        ours, theirs, rtol=1e-4, atol=1e-5
    ):
        return None, "the Dense layers do not form a plain chain"
    return spec, ""


def _compiled_loss(loss: Any) -> Any:
    """The compiled loss as one Keras ``Loss`` object, or None."""
    import keras

    if isinstance(loss, (dict, list, tuple)) or loss is None:
        return None
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if not isinstance(loss, keras.losses.Loss):
        if not callable(loss):
            return None
        from keras.src.losses.losses import LossFunctionWrapper

        loss = LossFunctionWrapper(loss)
    if loss.reduction not in ("sum_over_batch_size", "mean"):
        return None
    return loss


def _member_weights(model: Any) -> list[np.ndarray]:
    """The model's weights as [kernel, bias, kernel, bias, ...] (no bias where unused)."""
    return [np.asarray(w, dtype=np.float32) for w in model.get_weights()]


def _forward_once(spec: DenseStack, weights: list[np.ndarray], x: np.ndarray):
    import keras

    out = keras.ops.convert_to_tensor(x)
    i = 0
    for use_bias, activation in zip(spec.use_bias, spec.activations):
        out = keras.ops.matmul(out, weights[i])
        i += 1
        if use_bias:
            out = out + weights[i]
            i += 1
        out = activation(out)
    return keras.ops.convert_to_numpy(out)


# -- what each member trains on ---------------------------------------------------------


class _Member:
    """One trial's stream of batches (rows of the shared pool), loss and schedule."""

    def __init__(
        self,
        trial: Trial,
        setup: TrainingSetup,
        pool_rows: np.ndarray,
        loss: Any,
        batch_size: int,
    ):
        self.trial = trial
        self.loss = loss
        self.epochs = setup.epochs
        self.class_weight = None
        if setup.class_weight is not None:
            self.class_weight = np.ones(setup.n_classes, dtype=np.float32)
            for cls, weight in setup.class_weight.items():
                self.class_weight[int(cls)] = weight
        self.callbacks = list(setup.callbacks)
        self.pool_rows = pool_rows  # pool position of each row of setup.X
        self.batch_size = batch_size
        self.pipeline = None
        n = len(pool_rows)
        if setup.pipeline is not None:
            from balanceflow.data._in_memory import balanced_pipeline

            self.pipeline = balanced_pipeline(
                setup.X,
                setup.y,
                batch_size=batch_size,
                seed=setup.seed,
                classes=np.arange(setup.n_classes),
                **setup.pipeline,
            )
            self.pipeline.inputs = {}  # its plan only: the rows come from the pool
            self.steps_per_epoch = int(self.pipeline.n_batches)
        else:
            self.steps_per_epoch = -(-n // batch_size)
        self.seed = setup.seed
        self.total_steps = self.steps_per_epoch * self.epochs
        # Early stopping: pool positions of the held-out rows, their weights and the
        # prior the member trains under; the first epoch it may keep.
        self.validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        from balanceflow.training._stopping import first_scored_epoch

        self.first_scored = first_scored_epoch(self.callbacks)
        self.done = 0
        self._epoch = -1
        self._batches: list[
            tuple[np.ndarray, np.ndarray | None, np.ndarray | None]
        ] = []

    def steps_to_epoch_end(self) -> int:
        return self.steps_per_epoch - self.done % self.steps_per_epoch

    def epoch_ending_at(self, step: int) -> int:
        """The epoch that the member's ``step``-th step (0-based) ends, or -1 (also for
        an epoch before the first one early stopping may keep)."""
        if (step + 1) % self.steps_per_epoch == 0:
            epoch = (step + 1) // self.steps_per_epoch - 1
            return epoch if epoch >= self.first_scored else -1
        return -1

    def epoch_starts_now(self) -> int | None:
        """The epoch that the next step starts, if it starts one."""
        if self.done < self.total_steps and self.done % self.steps_per_epoch == 0:
            return self.done // self.steps_per_epoch
        return None

    def next_batch(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        epoch, step = divmod(self.done, self.steps_per_epoch)
        if epoch != self._epoch:
            self._batches = self._epoch_batches(epoch)
            self._epoch = epoch
        self.done += 1
        return self._batches[step]

    def _epoch_batches(self, epoch: int) -> list[tuple[Any, Any, Any]]:
        size = self.batch_size
        if self.pipeline is None:
            from balanceflow._models import epoch_order

            order = self.pool_rows[epoch_order(len(self.pool_rows), self.seed, epoch)]
            return [
                (order[i : i + size], None, None) for i in range(0, len(order), size)
            ]
        batches = []
        for part in self.pipeline.epoch_parts(epoch):
            rows = self.pool_rows[part.rows]
            if part.lam is None:
                batches.append((rows, None, None))
            else:
                batches.append((rows, self.pool_rows[part.partners], part.lam))
        if len(batches) != self.steps_per_epoch:  # pragma: no cover - a planning bug
            raise RuntimeError("balanced_dataset's plan changed its number of batches")
        return batches


def _fusable(setup: TrainingSetup) -> str:
    """Why a trial's setup cannot train fused ('' when it can)."""
    from balanceflow.callbacks import DeferredReweighting

    if not setup.rows_are_copies:
        return "its sampler makes rows of its own (no sample_indices_)"
    if any(type(cb) is not DeferredReweighting for cb in setup.callbacks):
        return "it has callbacks other than DeferredReweighting"
    pipeline = setup.pipeline or {}
    if (
        pipeline.get("mixup_alpha") is not None
        or pipeline.get("sample_weight") is not None
    ):
        return "its pipeline mixes rows or weighs them"
    if setup.loss is not None and _compiled_loss(setup.loss) is None:
        return "its loss is not one per-sample loss"
    return ""


# -- the stacked computation ------------------------------------------------------------


class _Stack:
    """The live members' weights as one ``(M, P)`` variable (each member's weights
    flattened and laid end to end), their Adam moments and step counts, and the compiled
    chunk of steps. One flat vector per member keeps the step's op count independent of
    the number of layers: the per-op cost of TensorFlow, not the arithmetic, is what a
    step of small models spends its time on.

    With early stopping (``stopping``: each member's held-out pool rows and their
    weights, padded to one width, the prior each trains under, and the patience), every
    step that ends an epoch of a
    member scores the members on their held-out rows; a member keeps its best epoch's
    weights (``best``) and is frozen once ``patience`` epochs pass without a better
    score, exactly as :class:`~balanceflow.training._stopping.BestEpoch` does alone.
    """

    def __init__(
        self,
        spec: DenseStack,
        state: dict[str, np.ndarray],
        losses: list[Any],
        pool_x: Any,
        pool_y: Any,
        interpolate: bool,
        shapes: list[tuple[int, ...]],
        stopping: tuple[np.ndarray, np.ndarray, int] | None = None,
    ):
        import tensorflow as tf

        self.spec = spec
        self.width = len(state["params"])
        self.shapes = shapes
        self.sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.params = tf.Variable(state["params"])
        self.m = tf.Variable(state["m"])
        self.v = tf.Variable(state["v"])
        self.t = tf.Variable(state["t"])
        self.stopping = stopping is not None
        if stopping is not None:
            rows, weights, priors, self.patience = stopping
            self.val_rows = tf.constant(rows)
            self.val_weights = tf.constant(weights)
            self.val_priors = tf.constant(priors)  # (M, classes)
            self.best = tf.Variable(state["best"])
            self.best_score = tf.Variable(state["best_score"])
            self.best_epoch = tf.Variable(state["best_epoch"])
            self.wait = tf.Variable(state["wait"])
            self.stopped = tf.Variable(state["stopped"])
        # Members sharing one loss object are computed together.
        groups: dict[int, list[int]] = {}
        for position, loss in enumerate(losses):
            groups.setdefault(id(loss), []).append(position)
        self.loss_groups = [(losses[p[0]], p) for p in groups.values()]
        self.pool_x, self.pool_y = pool_x, pool_y
        self.labels = pool_y.numpy()
        self.interpolate = interpolate
        shape = (None, self.width, None)
        signature = [
            tf.TensorSpec(shape, tf.int64),
            tf.TensorSpec(shape, tf.int64),
            tf.TensorSpec(shape, tf.float32),
            tf.TensorSpec(shape, tf.float32),
            tf.TensorSpec((None, self.width), tf.float32),
            tf.TensorSpec((None, self.width), tf.bool),
            tf.TensorSpec((None, self.width), tf.int32),
        ]
        self.chunk = tf.function(self._chunk, input_signature=signature)
        _quiet_retracing()

    @staticmethod
    def initial_state(
        weights: list[list[np.ndarray]], stopping: bool
    ) -> dict[str, np.ndarray]:
        """The state of members starting from ``weights``: fresh moments and counts."""
        flat = np.stack([np.concatenate([w.ravel() for w in ws]) for ws in weights])
        flat = flat.astype(np.float32)
        width = len(flat)
        state = {
            "params": flat,
            "m": np.zeros(flat.shape, np.float32),
            "v": np.zeros(flat.shape, np.float32),
            "t": np.zeros(width, np.float32),
        }
        if stopping:
            state.update(
                best=flat.copy(),
                best_score=np.full(width, np.inf, np.float32),
                best_epoch=np.full(width, -1, np.int32),
                wait=np.zeros(width, np.int32),
                stopped=np.zeros(width, bool),
            )
        return state

    def state(self) -> dict[str, np.ndarray]:
        """Every variable of the stack, one row per member."""
        names = ["params", "m", "v", "t"]
        if self.stopping:
            names += ["best", "best_score", "best_epoch", "wait", "stopped"]
        return {name: getattr(self, name).numpy() for name in names}

    def unflatten(self, row: np.ndarray) -> list[np.ndarray]:
        """One member's flat weights in ``model.get_weights()`` order."""
        cuts = np.cumsum(self.sizes)[:-1]
        return [
            part.reshape(shape) for part, shape in zip(np.split(row, cuts), self.shapes)
        ]

    def _forward(self, params: Any, x: Any) -> Any:
        """Pre-activation outputs of the last layer, (M, B, units)."""
        import tensorflow as tf

        pieces = iter(tf.split(params, self.sizes, axis=1))
        shapes = iter(self.shapes)
        out = x
        last = len(self.spec.units) - 1
        for layer, (use_bias, activation) in enumerate(
            zip(self.spec.use_bias, self.spec.activations)
        ):
            kernel = tf.reshape(next(pieces), (-1, *next(shapes)))
            out = tf.linalg.matmul(out, kernel)
            if use_bias:
                out = out + next(pieces)[:, None, :]
                next(shapes)
            if layer != last:
                out = activation(out)
        return out

    def _step(self, rows, partners, lam, weight, scale, active) -> None:
        import tensorflow as tf

        x = tf.gather(self.pool_x, rows)
        if self.interpolate:
            # A synthetic entry is base + lam * (partner - base); lam is 0 for real rows.
            x = x + lam[..., None] * (tf.gather(self.pool_x, partners) - x)
        y = tf.cast(tf.gather(self.pool_y, rows), tf.float32)
        head = self.spec.activations[-1]
        params = self.params.read_value()
        with tf.GradientTape() as tape:
            tape.watch(params)
            logits = self._forward(params, x)
            total = 0.0
            for loss, positions in self.loss_groups:
                if len(positions) == self.width:
                    z, labels, w, s = logits, y, weight, scale
                else:
                    index = tf.constant(positions)
                    z, labels = tf.gather(logits, index), tf.gather(y, index)
                    w, s = tf.gather(weight, index), tf.gather(scale, index)
                batch = tf.shape(z)[1]
                flat = tf.reshape(z, (-1, z.shape[-1]))
                # The head's activation on the flattened logits keeps Keras' from-logits
                # shortcut (the probabilities carry their logits) intact.
                values = loss.call(tf.reshape(labels, (-1,)), head(flat))
                values = tf.reshape(values, (len(positions), batch))
                total = total + tf.reduce_sum(tf.reduce_sum(values * w, axis=1) * s)
        self._adam(tape.gradient(total, params), active)

    def _adam(self, gradient, active) -> None:
        """Keras' Adam step, per member: each has its own step count, and a member not
        active in this step keeps its weights and moments exactly."""
        import tensorflow as tf

        spec = self.spec
        local = self.t + 1.0
        alpha = (
            spec.learning_rate
            * tf.sqrt(1 - tf.pow(tf.constant(spec.beta_2, tf.float32), local))
            / (1 - tf.pow(tf.constant(spec.beta_1, tf.float32), local))
        )
        keep = active[:, None]
        m_new = self.m + (gradient - self.m) * (1 - spec.beta_1)
        v_new = self.v + (tf.square(gradient) - self.v) * (1 - spec.beta_2)
        step = (m_new * alpha[:, None]) / (tf.sqrt(v_new) + spec.epsilon)
        self.m.assign(tf.where(keep, m_new, self.m))
        self.v.assign(tf.where(keep, v_new, self.v))
        self.params.assign(tf.where(keep, self.params - step, self.params))
        self.t.assign(self.t + tf.cast(active, tf.float32))

    def _validate(self, ends) -> None:
        """Score the members whose epoch ``ends`` (its number, -1: none) on their
        held-out rows; keep each one's best weights; stop those out of patience."""
        import tensorflow as tf

        from balanceflow.training._stopping import EPSILON

        due = (ends >= 0) & tf.logical_not(self.stopped)
        outputs = self._forward(self.params, tf.gather(self.pool_x, self.val_rows))
        units = outputs.shape[-1]
        probs = self.spec.activations[-1](tf.reshape(outputs, (-1, units)))
        probs = tf.reshape(probs, (self.width, -1, units))
        labels = tf.gather(self.pool_y, self.val_rows)
        if units == 1:
            probs = tf.concat([1 - probs, probs], axis=2)
        # Bayes' rule to equal priors, as balanced_log_loss does alone.
        probs = probs / self.val_priors[:, None, :]
        probs = probs / tf.reduce_sum(probs, axis=2, keepdims=True)
        p = tf.gather(probs, labels, axis=2, batch_dims=2)
        losses = -tf.math.log(tf.clip_by_value(p, EPSILON, 1 - EPSILON))
        # Padding entries (weight 0) must not bring a NaN in (NaN * 0 is NaN).
        losses = tf.where(self.val_weights > 0, losses, 0.0)
        score = tf.reduce_sum(losses * self.val_weights, axis=1)
        better = due & (score < self.best_score)
        self.best.assign(tf.where(better[:, None], self.params, self.best))
        self.best_score.assign(tf.where(better, score, self.best_score))
        self.best_epoch.assign(tf.where(better, ends, self.best_epoch))
        wait = tf.where(better, 0, tf.where(due, self.wait + 1, self.wait))
        self.wait.assign(wait)
        self.stopped.assign(self.stopped | (due & (wait >= self.patience)))

    def _chunk(self, rows, partners, lam, weight, scale, active, ends) -> None:
        import tensorflow as tf

        for k in tf.range(tf.shape(rows)[0]):
            if self.stopping:
                live = active[k] & tf.logical_not(self.stopped)
                self._step(rows[k], partners[k], lam[k], weight[k], scale[k], live)
                if tf.reduce_any((ends[k] >= 0) & live):
                    self._validate(ends[k])
            else:
                self._step(rows[k], partners[k], lam[k], weight[k], scale[k], active[k])


class _RetracingNotice(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning. Every stack (a group,
    or one repacked narrower) traces its own chunk function once, by design; TensorFlow
    counts those traces as retracing of one method and would warn users about it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_retracing() -> None:
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _RetracingNotice) for f in logger.filters):
        logger.addFilter(_RetracingNotice())


def _frames_pool(
    data: TrialData, trials: Sequence[Trial]
) -> tuple[np.ndarray, dict[Hashable, int], dict[Hashable, int]] | None:
    """Every frame the trials use, preprocessed, one after another: the pool the members
    gather their rows from; each frame's first row in it; each frame's width. None when
    the rows are not table rows (rank-1).

    Without a transformer every frame is the same array, kept once. Frames can differ in
    width (a one-hot column of a category missing from a fold): narrower ones are padded
    with zero columns. A member's kernel gets zero rows for them, which stay exactly zero
    (their inputs are 0, so are their gradients and Adam moments), and are cut off again
    after training.
    """
    frames = list(dict.fromkeys(t.frame for t in trials))
    if data.transformer is None:
        array = frame_arrays(data, frames[0])
        if array.ndim != 2:
            return None
        return array, dict.fromkeys(frames, 0), dict.fromkeys(frames, array.shape[1])
    arrays = [frame_arrays(data, frame) for frame in frames]
    if any(a.ndim != 2 for a in arrays):
        return None
    widths = {frame: a.shape[1] for frame, a in zip(frames, arrays)}
    n = len(data.codes)
    offsets = {frame: i * n for i, frame in enumerate(frames)}
    if len(arrays) == 1:
        return arrays[0], offsets, widths
    pool = np.zeros((n * len(arrays), max(widths.values())), np.float32)
    for frame, array in zip(frames, arrays):
        pool[offsets[frame] : offsets[frame] + n, : array.shape[1]] = array
    return pool, offsets, widths


def fused_results(
    data: TrialData,
    recipe: Any,
    trials: Sequence[Trial],
    *,
    require: bool = False,
    train_one: Callable[[Trial], TrialResult],
    progress: Callable[[float, str], None] | None = None,
) -> list[TrialResult]:
    """Train ``trials`` stacked where they can be, and one at a time (``train_one``)
    where they cannot; ``require``: raise instead of falling back. ``progress(models,
    description)`` follows the training, in models done (fractions while they train)."""
    import tensorflow as tf

    from balanceflow._models import ModelState, predict_proba
    from balanceflow.exceptions import InvalidParameterError

    start = time.perf_counter()
    recipe = recipe.for_rows(data.codes)
    pooled = _frames_pool(data, trials)
    if pooled is None:
        spec, reason = None, "the rows are not table rows (rank 1)"
    else:
        pool_x, offsets, widths = pooled
        widest = pool_x.shape[1]
        model = recipe.build((widest,), data.n_classes, seed=trials[0].init_seed)
        spec, reason = stack_spec(model)
    if spec is None:
        if require:
            raise InvalidParameterError(
                f"engine='fused' cannot train this model: {reason}. Use engine='auto' "
                "or 'loop'."
            )
        return _one_at_a_time(trials, [reason] * len(trials), train_one, progress, 0)
    members: list[_Member] = []
    loop: list[tuple[Trial, str]] = []
    initial: dict[Any, list[np.ndarray]] = {}
    default_loss = _compiled_loss(model.loss)
    for trial in trials:
        rows, held = training_rows(data, recipe, trial)
        offset, width = offsets[trial.frame], widths[trial.frame]
        setup = TrainingSetup(
            X=pool_x[offset + rows, :width],
            y=data.codes[rows],
            n_classes=data.n_classes,
            epochs=recipe.epochs,
            batch_size=recipe.batch_size,
            seed=trial.seed,
        )
        for part in trial.strategy.parts:
            setup = part.apply(setup)
        why = _fusable(setup)
        if why:
            if require:
                raise InvalidParameterError(
                    f"engine='fused' cannot train strategy {trial.strategy.name!r}: "
                    f"{why}. Use engine='auto' or 'loop'."
                )
            loop.append((trial, why))
            continue
        source = rows if setup.source_rows is None else rows[setup.source_rows]
        member = _Member(
            trial,
            setup,
            offset + source,
            setup.loss if setup.loss is not None else default_loss,
            setup.batch_size,
        )
        member.width = width
        if held is not None:
            from balanceflow.training._stopping import row_weights, training_prior

            member.validation = (
                offset + held,
                row_weights(data.codes[held]),
                training_prior(trial.strategy, data.codes[rows], data.n_classes),
            )
        members.append(member)
        key = (width, trial.init_seed)
        if key not in initial:
            built = recipe.build((width,), data.n_classes, seed=trial.init_seed)
            weights = _member_weights(built)
            weights[0] = np.pad(weights[0], ((0, widest - width), (0, 0)))
            initial[key] = weights
        del setup
    results: dict[Any, TrialResult] = {}
    if members:
        copies = len(pool_x) // max(len(data.codes), 1)
        pool_y = np.tile(data.codes.astype(np.int32), copies)
        trained = _train(
            spec,
            members,
            [initial[(m.width, m.trial.init_seed)] for m in members],
            tf.constant(pool_x),
            tf.constant(pool_y),
            progress,
            patience=recipe.patience if recipe.early_stopping else None,
        )
        seconds = (time.perf_counter() - start) / len(members)
        states: dict[int, Any] = {widest: ModelState(model)}
        for member, (weights, best_epoch) in zip(members, trained):
            trial = member.trial
            weights[0] = weights[0][: member.width]
            proba = None
            if trial.score_rows is not None:
                if member.width not in states:
                    states[member.width] = ModelState(
                        recipe.build(
                            (member.width,), data.n_classes, seed=trial.init_seed
                        )
                    )
                fitted = states[member.width].restore()
                fitted.set_weights(weights)
                offset = offsets[trial.frame]
                scored = pool_x[offset + np.asarray(trial.score_rows), : member.width]
                proba = predict_proba(fitted, scored, data.n_classes)
            results[trial.tag] = TrialResult(
                trial.tag,
                proba,
                weights if trial.keep_model else None,
                seconds,
                engine="fused",
                group_size=len(members),
                best_epoch=best_epoch,
            )
    if loop:
        done = _one_at_a_time(
            [t for t, _ in loop],
            [w for _, w in loop],
            train_one,
            progress,
            len(members),
        )
        results.update((r.tag, r) for r in done)
    return [results[t.tag] for t in trials]


def _one_at_a_time(
    trials: Sequence[Trial],
    reasons: Sequence[str],
    train_one: Callable[[Trial], TrialResult],
    progress: Callable[[float, str], None] | None,
    already: int,
) -> list[TrialResult]:
    """The trials that cannot be stacked, trained alone, each result saying why."""
    results = []
    for done, (trial, why) in enumerate(zip(trials, reasons), start=already + 1):
        result = train_one(trial)
        result.engine, result.engine_note = "loop", why
        results.append(result)
        if progress is not None:
            progress(done, f"one at a time · {trial.strategy.name}")
    return results


def _train(
    spec: DenseStack,
    members: list[_Member],
    weights: list[list[np.ndarray]],
    pool_x: Any,
    pool_y: Any,
    progress: Callable[[float, str], None] | None = None,
    *,
    patience: int | None = None,
) -> list[tuple[list[np.ndarray], int | None]]:
    """Train the members stacked; return each one's trained weights and, with early
    stopping (``patience``), the epoch whose weights it kept.

    ``layout`` is the member at each position of the stack. A finished member stays in
    place, frozen, until no more than half the positions still train; then those are
    repacked into a narrower stack (weights, moments, step counts and early-stopping
    state carried over).
    """
    interpolate = any(
        m.pipeline is not None and m.pipeline.method == "interpolate" for m in members
    )
    shapes = [w.shape for w in weights[0]]

    def build(layout, state):
        stopping = None
        if patience is not None:
            held = [members[i].validation for i in layout]
            longest = max(len(rows) for rows, _, _ in held)
            rows = np.zeros((len(layout), longest), np.int64)
            row_weight = np.zeros((len(layout), longest), np.float32)
            for position, (where, weight, _) in enumerate(held):
                rows[position, : len(where)] = where
                row_weight[position, : len(where)] = weight
            priors = np.stack([prior for _, _, prior in held]).astype(np.float32)
            stopping = (rows, row_weight, priors, int(patience))
        return _Stack(
            spec,
            state,
            [members[i].loss for i in layout],
            pool_x,
            pool_y,
            interpolate,
            shapes,
            stopping,
        )

    def finish(stack, state, position, i):
        if patience is None:
            final[i] = (stack.unflatten(state["params"][position]), None)
            return
        epoch = int(state["best_epoch"][position])
        row = state["best"][position] if epoch >= 0 else state["params"][position]
        final[i] = (stack.unflatten(row), epoch)

    for member in members:
        for callback in member.callbacks:
            callback.set_model(_LossHolder(member.loss))
            callback.on_train_begin()
    layout = list(range(len(members)))
    stack = build(layout, _Stack.initial_state(weights, patience is not None))
    final: dict[int, tuple[list[np.ndarray], int | None]] = {}
    while True:
        running = [i for i in layout if members[i].done < members[i].total_steps]
        if not running:
            break
        if len(running) <= len(layout) // 2:
            state = stack.state()
            for position, i in enumerate(layout):
                if i not in running:
                    finish(stack, state, position, i)
            keep = [p for p, i in enumerate(layout) if i in running]
            stack = build(running, {name: a[keep] for name, a in state.items()})
            layout = running
        _run_chunk(stack, [members[i] for i in layout])
        if stack.stopping:
            for i, stopped in zip(layout, stack.stopped.numpy()):
                if stopped:
                    members[i].done = members[i].total_steps
        if progress is not None:
            done = sum(m.done / m.total_steps for m in members)
            progress(done, f"fused · {stack.width} models per step")
    state = stack.state()
    for position, i in enumerate(layout):
        finish(stack, state, position, i)
    return [final[i] for i in range(len(members))]


class _LossHolder:
    """What DeferredReweighting reads from its model: the loss it re-weights."""

    def __init__(self, loss: Any):
        self.loss = loss


def _run_chunk(stack: _Stack, layout: list[_Member]) -> None:
    """Run the next chunk of steps: each running member's next batches, padded to the
    largest batch; finished members are inactive (frozen)."""
    width, size = stack.width, max(m.batch_size for m in layout)
    running = [(p, m) for p, m in enumerate(layout) if m.done < m.total_steps]
    limit = max(1, min(_MAX_CHUNK, _CHUNK_ENTRIES // (width * size)))
    # A member re-weighted at epoch starts needs each of its epochs to start a chunk.
    for _, member in running:
        if member.callbacks:
            epoch = member.epoch_starts_now()
            if epoch is not None:
                for callback in member.callbacks:
                    callback.on_epoch_begin(epoch)
            limit = min(limit, member.steps_to_epoch_end())
    steps = min(limit, max(m.total_steps - m.done for _, m in running))
    rows = np.zeros((steps, width, size), np.int64)
    partners = np.zeros((steps, width, size), np.int64)
    lam = np.zeros((steps, width, size), np.float32)
    weight = np.zeros((steps, width, size), np.float32)
    scale = np.zeros((steps, width), np.float32)
    active = np.zeros((steps, width), bool)
    ends = np.full((steps, width), -1, np.int32)
    for p, member in running:
        for k in range(min(steps, member.total_steps - member.done)):
            ends[k, p] = member.epoch_ending_at(member.done)
            batch, mates, mix = member.next_batch()
            count = len(batch)
            rows[k, p, :count] = batch
            if mates is not None:
                partners[k, p, :count] = mates
                lam[k, p, :count] = mix
            if member.class_weight is None:
                weight[k, p, :count] = 1.0
            else:
                weight[k, p, :count] = member.class_weight[stack.labels[batch]]
            scale[k, p] = 1.0 / count
            active[k, p] = True
    stack.chunk(rows, partners, lam, weight, scale, active, ends)
