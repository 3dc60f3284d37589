"""Many models, one step: a group of trials trained as one stacked Keras computation.

A comparison trains dozens of tiny models. One step of the default MLP is a few
microseconds of arithmetic and about a millisecond of framework overhead, so training them
one after another spends almost all its time on overhead. Here the M models of a group
become one computation: every weight gets a leading member axis (``(M, in, out)``
kernels), each step gathers each member's own batch from one shared copy of the rows
(``(M, batch, features)``), computes each member's own loss on its own rows with its own
sample weights, and updates each member with its own Adam state and step count. Many steps
run inside one compiled call (``tf.function`` on TensorFlow, ``jax.jit`` on JAX).

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
per-sample loss, on the TensorFlow or JAX backend. Anything else trains one at a time; the reason
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

    if keras.backend.backend() not in ("tensorflow", "jax"):
        backend = keras.backend.backend()
        return None, f"the fused engine runs on TensorFlow and JAX (backend: {backend})"
    if (
        len(getattr(model, "inputs", None) or []) != 1
        or len(model.inputs[0].shape) != 2
    ):
        if getattr(model, "inputs", None) is None:
            return None, f"{type(model).__name__} is not a functional chain of layers"
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


_STATE = ("params", "m", "v", "t")
_STOPPING_STATE = ("best", "best_score", "best_epoch", "wait", "stopped")


class _Stack:
    """The live members' weights as one ``(M, P)`` array (each member's weights
    flattened and laid end to end), their Adam moments and step counts, and the compiled
    chunk of steps. One flat vector per member keeps the step's op count independent of
    the number of layers: the per-op cost of the framework, not the arithmetic, is what a
    step of small models spends its time on.

    The step is written once in ``keras.ops`` as a pure function of the state; only the
    gradient and the compilation are the backend's (:class:`_Backend`): ``tf.function``
    with a ``GradientTape`` on TensorFlow, ``jax.jit`` with ``jax.grad`` on JAX. The loss
    weights that deferred re-weighting changes between epochs are arguments of the step,
    read through a ``keras.StatelessScope``, so a compiled step never keeps stale ones.

    With early stopping (``stopping``: each member's held-out pool rows and their
    weights, padded to one width, the prior each trains under, and the patience), every
    step that ends an epoch of a member scores the members on their held-out rows; a
    member keeps its best epoch's weights (``best``) and is frozen once ``patience``
    epochs pass without a better score, exactly as
    :class:`~balanceflow.training._stopping.BestEpoch` does alone.
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
        stopping: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None = None,
    ):
        import keras

        from balanceflow.losses import ClassWeightState

        self.spec = spec
        self.backend = _Backend(keras.backend.backend())
        self.width = len(state["params"])
        self.shapes = shapes
        self.sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.stopping = stopping is not None
        names = _STATE + (_STOPPING_STATE if self.stopping else ())
        self._state = {name: self.backend.tensor(state[name]) for name in names}
        self._held: tuple[Any, ...] = ()
        if stopping is not None:
            rows, weights, priors, self.patience = stopping
            self._held = tuple(self.backend.tensor(a) for a in (rows, weights, priors))
        # Members sharing one loss object are computed together.
        groups: dict[int, list[int]] = {}
        for position, loss in enumerate(losses):
            groups.setdefault(id(loss), []).append(position)
        self.loss_groups = [(losses[p[0]], p) for p in groups.values()]
        self._weighted = [
            loss.class_weight_variable
            for loss, _ in self.loss_groups
            if isinstance(loss, ClassWeightState)
        ]
        self.pool_x = self.backend.tensor(pool_x)
        self.pool_y = self.backend.tensor(pool_y)
        self.labels = keras.ops.convert_to_numpy(pool_y)
        self.interpolate = interpolate
        self._compiled = self.backend.compile(self._chunk, fixed=2)

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
        """Every array of the stack, one row per member."""
        import keras

        return {k: keras.ops.convert_to_numpy(v) for k, v in self._state.items()}

    def stopped(self) -> np.ndarray:
        """Which members early stopping has frozen."""
        import keras

        return keras.ops.convert_to_numpy(self._state["stopped"])

    def unflatten(self, row: np.ndarray) -> list[np.ndarray]:
        """One member's flat weights in ``model.get_weights()`` order."""
        cuts = np.cumsum(self.sizes)[:-1]
        return [
            part.reshape(shape) for part, shape in zip(np.split(row, cuts), self.shapes)
        ]

    def chunk(self, rows, partners, lam, weight, scale, active, ends) -> None:
        """Run ``len(rows)`` steps: ``rows``/``partners``/``lam``/``weight`` are
        ``(steps, M, batch)``, ``scale`` (1 / batch rows), ``active`` and ``ends`` (the
        epoch a step ends, -1: none) ``(steps, M)``."""
        inputs = self.backend.steps(rows, partners, lam, weight, scale, active, ends)
        shared = {
            "pool_x": self.pool_x,
            "pool_y": self.pool_y,
            "held": self._held,
            "class_weights": [variable.value for variable in self._weighted],
        }
        self._state = self._compiled(self._state, shared, *inputs)

    def _forward(self, params: Any, x: Any) -> Any:
        """Pre-activation outputs of the last layer, (M, B, units)."""
        from keras import ops

        cuts = list(np.cumsum(self.sizes)[:-1])
        # (A model of one weight has nothing to split; TensorFlow refuses an empty cut.)
        pieces = iter(ops.split(params, cuts, axis=1) if cuts else [params])
        shapes = iter(self.shapes)
        out = x
        last = len(self.spec.units) - 1
        for layer, (use_bias, activation) in enumerate(
            zip(self.spec.use_bias, self.spec.activations)
        ):
            kernel = ops.reshape(next(pieces), (-1, *next(shapes)))
            out = ops.matmul(out, kernel)
            if use_bias:
                out = out + ops.expand_dims(next(pieces), 1)
                next(shapes)
            if layer != last:
                out = activation(out)
        return out

    def _loss(self, params, x, y, weight, scale, class_weights) -> Any:
        """The summed loss of every member on its own batch (each member's mean loss),
        with the loss weights ``class_weights`` in place of their variables."""
        import keras
        from keras import ops

        head = self.spec.activations[-1]
        logits = self._forward(params, x)
        total = 0.0
        with keras.StatelessScope(
            state_mapping=list(zip(self._weighted, class_weights))
        ):
            for loss, positions in self.loss_groups:
                if len(positions) == self.width:
                    z, labels, w, s = logits, y, weight, scale
                else:
                    index = np.asarray(positions, np.int32)
                    z, labels = ops.take(logits, index, 0), ops.take(y, index, 0)
                    w, s = ops.take(weight, index, 0), ops.take(scale, index, 0)
                batch = ops.shape(z)[1]
                flat = ops.reshape(z, (-1, z.shape[-1]))
                # The head's activation on the flattened logits keeps Keras' from-logits
                # shortcut (the probabilities carry their logits) intact.
                values = loss.call(ops.reshape(labels, (-1,)), head(flat))
                values = ops.reshape(values, (len(positions), batch))
                total = total + ops.sum(ops.sum(values * w, axis=1) * s)
        return total

    def _step(self, state, shared, batch, active) -> dict[str, Any]:
        """One step of every member: ``batch`` is its ``(rows, partners, lam, weight,
        scale)``; members not ``active`` keep their state."""
        from keras import ops

        rows, partners, lam, weight, scale = batch
        pool_x = shared["pool_x"]
        x = self.backend.gather(pool_x, rows)
        if self.interpolate:
            # A synthetic entry is base + lam * (partner - base); lam is 0 for real rows.
            x = x + ops.expand_dims(lam, 2) * (
                self.backend.gather(pool_x, partners) - x
            )
        y = ops.cast(self.backend.gather(shared["pool_y"], rows), "float32")
        weights = shared["class_weights"]
        gradient = self.backend.gradient(
            lambda params: self._loss(params, x, y, weight, scale, weights),
            state["params"],
        )
        return self._adam(state, gradient, active)

    def _adam(self, state, gradient, active) -> dict[str, Any]:
        """Keras' Adam step, per member: each has its own step count, and a member not
        active in this step keeps its weights and moments exactly."""
        from keras import ops

        spec = self.spec
        m, v, params, t = state["m"], state["v"], state["params"], state["t"]
        local = t + 1.0
        alpha = (
            spec.learning_rate
            * ops.sqrt(1 - ops.power(np.float32(spec.beta_2), local))
            / (1 - ops.power(np.float32(spec.beta_1), local))
        )
        keep = ops.expand_dims(active, 1)
        m_new = m + (gradient - m) * (1 - spec.beta_1)
        v_new = v + (ops.square(gradient) - v) * (1 - spec.beta_2)
        step = (m_new * ops.expand_dims(alpha, 1)) / (ops.sqrt(v_new) + spec.epsilon)
        return {
            **state,
            "m": ops.where(keep, m_new, m),
            "v": ops.where(keep, v_new, v),
            "params": ops.where(keep, params - step, params),
            "t": t + ops.cast(active, "float32"),
        }

    def _validate(self, state, shared, ends) -> dict[str, Any]:
        """Score the members whose epoch ``ends`` (its number, -1: none) on their
        held-out rows; keep each one's best weights; stop those out of patience."""
        from keras import ops

        from balanceflow.training._stopping import EPSILON

        val_rows, val_weights, val_priors = shared["held"]
        due = ops.logical_and(ends >= 0, ops.logical_not(state["stopped"]))
        params = state["params"]
        outputs = self._forward(params, self.backend.gather(shared["pool_x"], val_rows))
        units = outputs.shape[-1]
        probs = self.spec.activations[-1](ops.reshape(outputs, (-1, units)))
        probs = ops.reshape(probs, (self.width, -1, units))
        labels = self.backend.gather(shared["pool_y"], val_rows)
        if units == 1:
            probs = ops.concatenate([1 - probs, probs], axis=2)
        # Bayes' rule to equal priors, as balanced_log_loss does alone.
        probs = probs / ops.expand_dims(val_priors, 1)
        probs = probs / ops.sum(probs, axis=2, keepdims=True)
        p = ops.take_along_axis(probs, ops.expand_dims(labels, 2), axis=2)[..., 0]
        losses = -ops.log(ops.clip(p, EPSILON, 1 - EPSILON))
        # Padding entries (weight 0) must not bring a NaN in (NaN * 0 is NaN).
        losses = ops.where(val_weights > 0, losses, 0.0)
        score = ops.sum(losses * val_weights, axis=1)
        better = ops.logical_and(due, score < state["best_score"])
        wait = state["wait"]
        wait = ops.where(better, 0, ops.where(due, wait + 1, wait))
        stop = ops.logical_and(due, wait >= self.patience)
        return {
            **state,
            "best": ops.where(ops.expand_dims(better, 1), params, state["best"]),
            "best_score": ops.where(better, score, state["best_score"]),
            "best_epoch": ops.where(better, ends, state["best_epoch"]),
            "wait": wait,
            "stopped": ops.logical_or(state["stopped"], stop),
        }

    def _chunk(self, state, shared, rows, partners, lam, weight, scale, active, ends):
        """``len(rows)`` steps (see :meth:`chunk`); ``shared``: the pool, the held-out
        rows and the loss weights, the same for every step."""
        from keras import ops

        def body(k, state):
            live = active[k]
            if self.stopping:
                live = ops.logical_and(live, ops.logical_not(state["stopped"]))
            batch = (rows[k], partners[k], lam[k], weight[k], scale[k])
            state = self._step(state, shared, batch, live)
            if not self.stopping:
                return state
            return ops.cond(
                ops.any(ops.logical_and(ends[k] >= 0, live)),
                lambda: self._validate(state, shared, ends[k]),
                lambda: state,
            )

        return ops.fori_loop(0, ops.shape(rows)[0], body, state)


class _Backend:
    """What the stacked step needs from the Keras backend beyond ``keras.ops``: tensors,
    a gradient, a compiled function, and the shape of a chunk's step inputs."""

    def __init__(self, name: str):
        if name not in ("tensorflow", "jax"):  # pragma: no cover - stack_spec refuses
            raise ValueError(f"the fused engine has no {name!r} backend")
        self.name = name

    def tensor(self, array: Any) -> Any:
        import keras

        if (
            self.name == "jax"
            and isinstance(array, np.ndarray)
            and array.dtype == np.int64
        ):
            array = array.astype(np.int32)  # JAX runs without 64-bit integers
        return keras.ops.convert_to_tensor(array)

    def gather(self, pool: Any, rows: Any) -> Any:
        """``pool[rows]``: rows of the shared pool, whatever the shape of ``rows``. (Not
        ``keras.ops.take``, whose wrapping of negative indices adds ops to every step.)"""
        if self.name == "jax":
            return pool[rows]
        import tensorflow as tf

        return tf.gather(pool, rows)

    def gradient(self, function: Callable[[Any], Any], params: Any) -> Any:
        if self.name == "jax":
            import jax

            return jax.grad(function)(params)
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(params)
            total = function(params)
        return tape.gradient(total, params)

    def compile(self, function: Callable[..., Any], fixed: int) -> Callable[..., Any]:
        """``function`` compiled; its arguments after the first ``fixed`` are the step
        inputs, whose shapes change from chunk to chunk."""
        if self.name == "jax":
            import jax

            return jax.jit(function)
        import tensorflow as tf

        _quiet_retracing()
        compiled = None

        def run(*args):
            # One trace per stack: the step inputs (steps, members, ...) leave all but
            # the number of members open.
            nonlocal compiled
            if compiled is None:
                signature = [
                    tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), a)
                    for a in args[:fixed]
                ] + [
                    tf.TensorSpec(
                        [None, t.shape[1]] + [None] * (t.shape.rank - 2), t.dtype
                    )
                    for t in args[fixed:]
                ]
                compiled = tf.function(function, input_signature=signature)
            return compiled(*args)

        return run

    def steps(self, *inputs: np.ndarray) -> list[Any]:
        """A chunk's step inputs as tensors. JAX compiles one program per shape, so
        there the steps are padded (inactive, ending no epoch) to a power of two: a
        handful of programs serve every chunk length."""
        if self.name != "jax":
            return [self.tensor(a) for a in inputs]
        steps = len(inputs[0])
        padded = 1 << max(steps - 1, 0).bit_length()
        out = []
        for position, array in enumerate(inputs):
            if padded > steps:
                fill = -1 if position == len(inputs) - 1 else 0  # ends: -1
                extra = np.full((padded - steps, *array.shape[1:]), fill, array.dtype)
                array = np.concatenate([array, extra])
            out.append(self.tensor(array))
        return out


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
    import keras

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
            keras.ops.convert_to_tensor(pool_x),
            keras.ops.convert_to_tensor(pool_y),
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
                backend=keras.backend.backend(),
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
            for i, stopped in zip(layout, stack.stopped()):
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
        self.test_function = None

    def make_train_function(self, force: bool = False) -> None:
        """Nothing to rebuild: on JAX the callback asks a model to trace its step again
        after new weights, but the stacked step takes the weights as arguments."""


def _run_chunk(stack: _Stack, layout: list[_Member]) -> None:
    """Run the next chunk of steps: each running member's next batches, padded to the
    largest batch; finished members are inactive (frozen)."""
    width, size = stack.width, max(m.batch_size for m in layout)
    running = [(p, m) for p, m in enumerate(layout) if m.done < m.total_steps]
    limit = max(1, min(_MAX_CHUNK, _CHUNK_ENTRIES // (width * size)))
    if stack.backend.name == "jax":
        # JAX pads a chunk's steps to a power of two: ask for one (epoch ends that a
        # re-weighting member needs can still cut a chunk shorter).
        limit = 1 << (limit.bit_length() - 1)
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
