"""One training path: a recipe, trials, and the runners that train them.

- :class:`Recipe`: how every model is built and trained (model builder, epochs, batch
  size, learning rate, seed).
- :class:`Trial`: one model to train (a single-model strategy, its training and scored
  rows, its seeds) over a shared :class:`TrialData`; :func:`run_trial` trains it.
- Runners (:class:`SerialRunner`, :class:`ProcessRunner`, :class:`DaskRunner`;
  :func:`get_runner`): where a list of trials runs; all give the serial results. Each
  hands groups of trials to :func:`run_group`, which trains them one at a time
  (``engine="loop"``) or stacked into one computation (``"fused"``; ``"auto"`` fuses
  what can be stacked).
- :class:`StrategyEnsemble`: one model per strategy, trained as trials, saved as one
  ``.keras`` file.

``compare``, ``fit_best`` and ``StrategyEnsemble`` are drivers that build lists of trials
and hand them to a runner; see ``docs/architecture.md``.
"""

from balanceflow.training._recipe import Recipe, resolve_recipe
from balanceflow.training._runners import (
    DaskRunner,
    ProcessRunner,
    Runner,
    SerialRunner,
    check_n_jobs,
    get_runner,
    map_in_workers,
    run_group,
)
from balanceflow.training._strategy_ensemble import StrategyEnsemble
from balanceflow.training._trial import (
    Trial,
    TrialData,
    TrialResult,
    clear_cache,
    rebuild_model,
    run_trial,
    train_model,
    transform_frame,
)

__all__ = [
    "DaskRunner",
    "ProcessRunner",
    "Recipe",
    "Runner",
    "SerialRunner",
    "StrategyEnsemble",
    "Trial",
    "TrialData",
    "TrialResult",
    "check_n_jobs",
    "clear_cache",
    "get_runner",
    "map_in_workers",
    "rebuild_model",
    "resolve_recipe",
    "run_group",
    "run_trial",
    "train_model",
    "transform_frame",
]
