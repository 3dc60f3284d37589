"""Where trials run: in this process, in worker processes, or on a Dask cluster.

Every runner has one method, ``run(data, recipe, trials)``, which yields each trial's
:class:`~balanceflow.training.TrialResult` as soon as it is done (in any order: the
result's ``tag`` says which trial it is). All of them call the same
:func:`~balanceflow.training.run_group` on groups of trials (one trial per group with
the ``loop`` engine), so they give the same results.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import BalanceflowError, InvalidParameterError
from balanceflow.training import _fused
from balanceflow.training._trial import (
    _RUN_LOCK,
    Trial,
    TrialData,
    TrialResult,
    clear_cache,
    limit_threads,
    train_alone,
)

__all__ = [
    "ENGINES",
    "MAX_GROUP",
    "DaskRunner",
    "ProcessRunner",
    "Runner",
    "SerialRunner",
    "StepProgress",
    "check_engine",
    "check_n_jobs",
    "get_runner",
    "map_in_workers",
    "plan_groups",
    "run_group",
]


#: ``engine`` values: ``auto`` stacks what can be stacked and trains the rest one at a
#: time, ``fused`` insists (an error says why a model cannot be), ``loop`` trains one
#: model at a time.
ENGINES = ("auto", "fused", "loop")

#: ``progress(models_done, description)``: how far a fused group is, in models (a
#: fraction while they train).
StepProgress = Callable[[float, str], None]


def run_group(
    data: TrialData,
    recipe: Any,
    trials: Sequence[Trial],
    engine: str = "loop",
    threads: int | None = None,
    *,
    progress: StepProgress | None = None,
) -> list[TrialResult]:
    """Train a group of trials and return their results in order (what every runner
    calls): with ``engine="loop"`` one at a time, otherwise stacked by the fused trainer
    (:mod:`balanceflow.training._fused`) where the model and strategy allow (``"auto"``
    falls back to one at a time, ``"fused"`` raises).
    """
    limit_threads(threads)
    recipe = recipe.for_rows(data.codes)
    with _RUN_LOCK:
        if engine == "loop" or len(trials) < 2:
            return [train_alone(data, recipe, trial) for trial in trials]
        return _fused.fused_results(
            data,
            recipe,
            trials,
            require=engine == "fused",
            train_one=lambda trial: train_alone(data, recipe, trial),
            progress=progress,
        )


class Runner:
    """Base of the runners: ``run(data, recipe, trials)`` yields results as they finish.

    ``engine`` says how the trials train: ``"loop"`` one model at a time, ``"fused"``
    many models stacked into one computation (:mod:`balanceflow.training._fused`; an
    error where they cannot be), ``"auto"`` (default) fused where they can be and one at
    a time otherwise. Both engines give each model the same batches, so they give the
    same results up to float round-off.
    """

    engine: str = "auto"

    def run(
        self,
        data: TrialData,
        recipe: Any,
        trials: Sequence[Trial],
        progress: StepProgress | None = None,
    ) -> Iterator[TrialResult]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _groups(self, trials: Sequence[Trial], workers: int) -> list[list[Trial]]:
        return plan_groups(trials, self.engine, workers)


class SerialRunner(Runner):
    """Every trial in this process, in order (trials of one fold reuse its preprocessing
    and initial weights); with a fused engine, all of them stacked in one group."""

    def __init__(self, engine: str = "auto"):
        self.engine = check_engine(engine)

    def run(
        self,
        data: TrialData,
        recipe: Any,
        trials: Sequence[Trial],
        progress: StepProgress | None = None,
    ) -> Iterator[TrialResult]:
        try:
            for group in self._groups(trials, 1):
                yield from run_group(
                    data, recipe, group, self.engine, progress=progress
                )
        finally:
            clear_cache()

    def __repr__(self) -> str:
        return f"SerialRunner(engine={self.engine!r})"


class ProcessRunner(Runner):
    """Trials in ``n_jobs`` joblib worker processes (-1: one per core), each with its
    TensorFlow threads capped so the workers share the cores. One at a time (``loop``),
    workers get one trial at a time, so they share the work evenly, and keep their last
    fold's preprocessing and initial weights for the next trial of it; fused, the trials
    are dealt into one stacked group per worker."""

    def __init__(self, n_jobs: int = -1, engine: str = "auto"):
        self.n_jobs = check_n_jobs(n_jobs)
        self.engine = check_engine(engine)

    def run(
        self,
        data: TrialData,
        recipe: Any,
        trials: Sequence[Trial],
        progress: StepProgress | None = None,
    ) -> Iterator[TrialResult]:
        if len(trials) <= 1:  # not worth starting a worker
            yield from SerialRunner(self.engine).run(data, recipe, trials, progress)
            return
        workers = self.n_jobs if self.n_jobs > 0 else (os.cpu_count() or 1)
        groups = self._groups(trials, workers)
        for results in map_in_workers(
            run_group,
            [(data, recipe, group, self.engine) for group in groups],
            self.n_jobs,
            ordered=False,
        ):
            yield from results

    def __repr__(self) -> str:
        return f"ProcessRunner(n_jobs={self.n_jobs}, engine={self.engine!r})"


class DaskRunner(Runner):
    """Trials on the workers of an existing Dask distributed scheduler
    (``tcp://host:port``; needs ``balanceflow[dask]``); fused, one stacked group per
    worker thread. Thread limits are left to the cluster's own worker settings."""

    def __init__(self, scheduler: str, engine: str = "auto"):
        self.scheduler = check_scheduler(scheduler)
        self.engine = check_engine(engine)

    def run(
        self,
        data: TrialData,
        recipe: Any,
        trials: Sequence[Trial],
        progress: StepProgress | None = None,
    ) -> Iterator[TrialResult]:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise InvalidParameterError(
                "Running on a Dask cluster needs the 'distributed' package: "
                "pip install 'balanceflow[dask]'."
            ) from None
        try:
            client = Client(self.scheduler, timeout="5s")
        except (OSError, TimeoutError) as err:
            raise BalanceflowError(
                f"Could not reach the Dask scheduler at {short_repr(self.scheduler)} "
                f"within 5 s ({type(err).__name__}). Check the address and that the "
                "scheduler is running."
            ) from None
        try:
            workers = max(1, sum(client.nthreads().values()))
            shared = client.scatter([data, recipe], broadcast=True)
            futures = [
                client.submit(run_group, *shared, group, self.engine, pure=False)
                for group in self._groups(trials, workers)
            ]
            for future in as_completed(futures):
                yield from future.result()
            client.run(clear_cache)  # the workers outlive this run: free their fold
        finally:
            client.close()

    def __repr__(self) -> str:
        return f"DaskRunner({self.scheduler!r}, engine={self.engine!r})"


#: Most models stacked in one fused group (more would only grow the step's memory).
MAX_GROUP = 64


def plan_groups(
    trials: Sequence[Trial], engine: str, workers: int
) -> list[list[Trial]]:
    """The units of work: one trial each with ``engine="loop"``; otherwise the trials
    dealt round-robin into as many groups as there are workers (more if a group would
    exceed :data:`MAX_GROUP`), so each group holds a mix of strategies and folds."""
    if engine == "loop":
        return [[trial] for trial in trials]
    count = max(1, min(len(trials), max(workers, -(-len(trials) // MAX_GROUP))))
    return [list(trials[i::count]) for i in range(count) if trials[i::count]]


def check_engine(engine: Any) -> str:
    """``engine`` as one of ``ENGINES``, or an error naming it."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise InvalidParameterError(
            f"`engine` must be one of {list(ENGINES)}. Received: "
            f"engine={short_repr(engine)}.{did_you_mean(engine, ENGINES)}"
        )
    return engine


def check_n_jobs(n_jobs: Any) -> int:
    """``n_jobs`` as a positive int or -1, or an error naming it."""
    if (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, int)
        or not (n_jobs >= 1 or n_jobs == -1)
    ):
        raise InvalidParameterError(
            "`n_jobs` must be a positive int, or -1 for one worker per core. "
            f"Received: n_jobs={short_repr(n_jobs)}."
        )
    return int(n_jobs)


_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://[^\s/]+(:\d+)?/?$")


def check_scheduler(scheduler: Any) -> str:
    """A Dask scheduler address such as ``tcp://127.0.0.1:8786``, or an error naming it."""
    if not isinstance(scheduler, str) or not _ADDRESS.match(scheduler):
        raise InvalidParameterError(
            "`scheduler` must be a Dask scheduler address such as tcp://127.0.0.1:8786. "
            f"Received: scheduler={short_repr(scheduler)}."
        )
    return scheduler


def get_runner(
    n_jobs: int = 1, scheduler: str | None = None, engine: str = "auto"
) -> Runner:
    """The runner for ``n_jobs`` worker processes, or for a Dask ``scheduler``, training
    with ``engine``."""
    n_jobs = check_n_jobs(n_jobs)
    engine = check_engine(engine)
    if scheduler is not None:
        if n_jobs != 1:
            raise InvalidParameterError(
                "Give `n_jobs` (local worker processes) or `scheduler` (a Dask cluster), "
                f"not both. Received: n_jobs={n_jobs}, scheduler={short_repr(scheduler)}."
            )
        return DaskRunner(scheduler, engine)
    return SerialRunner(engine) if n_jobs == 1 else ProcessRunner(n_jobs, engine)


def _threads_per_worker(n_workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))


def map_in_workers(
    function: Any, arguments: list[tuple], n_jobs: int, *, ordered: bool = True
) -> Iterator[Any]:
    """``function(*args, threads)`` for each ``args`` in joblib worker processes.

    ``threads`` is each worker's share of the cores, for ``function`` to cap TensorFlow's
    thread pools with. Results come in the order of ``arguments``, or as they finish with
    ``ordered=False``. joblib keeps its workers for the next call, so a second map in the
    same run finds TensorFlow already started.
    """
    from joblib import Parallel, delayed

    workers = min(n_jobs, len(arguments)) if n_jobs > 0 else (os.cpu_count() or 1)
    threads = _threads_per_worker(workers)
    parallel = Parallel(
        n_jobs=workers,
        backend="loky",
        return_as="generator" if ordered else "generator_unordered",
    )
    yield from parallel(delayed(function)(*args, threads) for args in arguments)
