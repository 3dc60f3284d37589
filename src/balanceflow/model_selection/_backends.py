"""Where fold tasks run: in this process, in joblib workers, or on a Dask cluster."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from balanceflow._validation import short_repr
from balanceflow.exceptions import BalanceflowError, InvalidParameterError
from balanceflow.model_selection._trials import (
    FoldTask,
    Plan,
    clear_fold_cache,
    run_fold,
)

__all__ = ["map_in_workers", "run_tasks"]


def _threads_per_worker(n_workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))


def run_tasks(
    plan: Plan, tasks: list[FoldTask], *, n_jobs: int = 1, scheduler: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Run ``tasks`` and yield each one's results as soon as it finishes.

    In this process, a task trains its fold's strategies one after the other. Workers get
    one trial (fold, strategy) at a time, so that N workers share out the trials evenly
    (folds alone would leave workers idle: 5 folds on 2 workers take 3 rounds); a worker
    keeps its last fold's preprocessing and initial weights for the next trial of it.
    """
    if scheduler is not None:
        yield from _run_dask(plan, _one_trial_each(tasks), scheduler)
    elif n_jobs == 1 or sum(len(t.names) for t in tasks) <= 1:
        try:
            for task in tasks:
                yield run_fold(plan, task)
        finally:
            clear_fold_cache()
    else:
        yield from _run_joblib(plan, _one_trial_each(tasks), n_jobs)


def _one_trial_each(tasks: list[FoldTask]) -> list[FoldTask]:
    return [replace(task, names=[name]) for task in tasks for name in task.names]


def _run_joblib(plan: Plan, tasks: list[FoldTask], n_jobs: int) -> Iterator[list[dict]]:
    yield from map_in_workers(
        run_fold, [(plan, task) for task in tasks], n_jobs, ordered=False
    )


def map_in_workers(
    function: Any, arguments: list[tuple], n_jobs: int, *, ordered: bool = True
) -> Iterator[Any]:
    """``function(*args, threads)`` for each ``args`` in joblib worker processes.

    ``threads`` is each worker's share of the cores, for ``function`` to cap TensorFlow's
    thread pools with (:func:`limit_threads`). Results come in the order of ``arguments``,
    or as they finish with ``ordered=False``. joblib keeps its workers for the next call,
    so a second map in the same run finds TensorFlow already started.
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


def _run_dask(
    plan: Plan, tasks: list[FoldTask], scheduler: str
) -> Iterator[list[dict]]:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InvalidParameterError(
            "Running on a Dask cluster needs the 'distributed' package: "
            "pip install 'balanceflow[dask]'."
        ) from None
    try:
        client = Client(scheduler, timeout="5s")
    except (OSError, TimeoutError) as err:
        raise BalanceflowError(
            f"Could not reach the Dask scheduler at {short_repr(scheduler)} within 5 s "
            f"({type(err).__name__}). Check the address and that the scheduler is running."
        ) from None
    try:
        # Thread limits are left to the cluster's own worker settings.
        plan_future = client.scatter(plan, broadcast=True)
        futures = [
            client.submit(run_fold, plan_future, task, pure=False) for task in tasks
        ]
        for future in as_completed(futures):
            yield future.result()
        client.run(clear_fold_cache)  # the workers outlive this run: free their fold
    finally:
        client.close()
