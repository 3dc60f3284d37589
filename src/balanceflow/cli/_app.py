"""The ``balanceflow`` command: a thin translator over the public Python API."""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

import balanceflow as bf
from balanceflow._quiet import import_keras_quietly
from balanceflow.exceptions import BalanceflowError

__all__ = ["DEFAULT_DATASET", "app", "main"]

#: The shipped dataset ``balanceflow compare`` runs on when no file is given.
DEFAULT_DATASET = "flare-F"


class _OneLineErrors(typer.core.TyperGroup):
    """The command group, with command-line errors (an unknown option, a value that is
    not a number, a missing argument) as one line on stderr, as balanceflow's own
    errors are, and click's exit code 2 for them."""

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(
                args=args, prog_name=prog_name, standalone_mode=False, **extra
            )
        except _CLICK_ERROR as err:
            if type(err).__name__ == "NoArgsIsHelpError":  # `balanceflow` alone: help
                err.show()
                return self._finish(err.exit_code, standalone_mode)
            command = next((a for a in args[:1] if a in self.commands), "")
            where = f"balanceflow {command} --help".replace("  ", " ")
            message = err.format_message().replace("Value error, ", "").rstrip()
            if not message.endswith((".", ")")):
                message += "."
            errors.print(
                f"[bold red]Error:[/] {escape(message)}"
                f"{escape(_received(err, args))} (`{escape(where)}` lists the options)",
                highlight=False,
                soft_wrap=True,
            )
            code = err.exit_code
        except typer.Abort:
            errors.print("Aborted.")
            code = 1
        return self._finish(code, standalone_mode)

    @staticmethod
    def _finish(code, standalone_mode: bool):
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


#: click's base error (typer ships its own copy of click, so it is found from typer's).
_CLICK_ERROR = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _received(err: Exception, args: list[str]) -> str:
    """' Received: --opt VALUE.' for a bad option value, found on the command line."""
    param = getattr(err, "param", None)
    for opt in getattr(param, "opts", []) or []:
        if not opt.startswith("-"):
            continue
        # The last occurrence: the value click keeps, and the one it refused.
        for i, arg in reversed(list(enumerate(args))):
            if arg == opt and i + 1 < len(args):
                return f" Received: {opt} {args[i + 1]!r}."
            if arg.startswith(opt + "="):
                return f" Received: {arg!r}."
    return ""


app = typer.Typer(
    cls=_OneLineErrors,
    name="balanceflow",
    help="Find out which class-imbalance remedy works for a Keras model on your data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Output piped to a file or another program is not clipped to 80 columns.
console = Console() if sys.stdout.isatty() else Console(width=200)
errors = (
    Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def _known_errors(command):
    """Turn balanceflow's known errors into one line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return command(*args, **kwargs)
        except BalanceflowError as err:
            errors.print(
                f"[bold red]Error:[/] {escape(str(err))}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(code=1) from None

    return wrapper


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """balanceflow's warnings as one line on stderr; other libraries' as Python shows
    them."""
    if issubclass(category, UserWarning) and "balanceflow" in str(filename):
        errors.print(
            f"[bold yellow]Warning:[/] {escape(str(message))}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        sys.stderr.write(
            warnings.formatwarning(message, category, filename, lineno, line)
        )


def _load_model_fn(spec: str):
    """A built-in model by name, or import ``module:function`` (the current directory is
    searched first)."""
    import importlib

    from balanceflow.models import BUILT_IN

    if spec in BUILT_IN:
        return BUILT_IN[spec]
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise bf.exceptions.InvalidParameterError(
            f"--model must be a built-in model ({', '.join(BUILT_IN)}) or look like "
            f"module:function. Received: --model {spec!r}."
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise bf.exceptions.InvalidParameterError(
            f"--model {spec!r}: cannot import module {module_name!r} ({err})."
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise bf.exceptions.InvalidParameterError(
            f"--model {spec!r}: {module_name!r} has no function {function_name!r}."
        )
    return function


def _recipe(
    model: str | None,
    epochs: Any,
    batch_size: Any,
    seed: int,
    early_stopping: bool | None = None,
):
    from balanceflow.training import Recipe

    return Recipe(
        model_fn=_load_model_fn(model) if model else None,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        early_stopping="auto" if early_stopping is None else early_stopping,
    )


def _epochs_text(settings: dict) -> str:
    """'30 epochs', or with early stopping 'up to 200 epochs (early stopping, ...)'."""
    stopping = settings.get("early_stopping")
    if not stopping:
        return f"{settings['epochs']} epochs"
    return (
        f"up to {settings['epochs']} epochs (early stopping on "
        f"{stopping['validation_fraction']:.0%} of each model's training rows, "
        f"patience {stopping['patience']})"
    )


def _strategies(names: list[str] | None, config: Path | None) -> list:
    """The --strategy names (default: 'default') and the strategies of --config."""
    chosen: list = list(names or ["default"])
    if config is not None:
        from balanceflow.strategies import load_config

        chosen += load_config(config)
    return chosen


def _one_target(targets: list[str] | None) -> str | None:
    """The one --target; given twice, the other label column would become a feature."""
    if not targets:
        return None
    if len(targets) > 1:
        raise bf.exceptions.InvalidParameterError(
            f"--target was given {len(targets)} times ({targets}); name one label column. "
            "The other would be trained on as a feature."
        )
    return targets[0]


def _pos_label(value: str | None, y, option: str = "--pos-label") -> object:
    """The label that --pos-label (or ``option``) names (the command line gives text;
    labels may be numbers)."""
    if value is None:
        return None
    labels = pd.unique(np.asarray(y, dtype=object))
    for label in labels:
        if str(label) == value:
            return label.item() if isinstance(label, np.generic) else label
    raise bf.exceptions.InvalidParameterError(
        f"{option} {value!r} is not a class of the target. Use one of "
        f"{sorted(str(v) for v in labels)[:10]}."
    )


def _deployment_prior(text: str | None, y) -> object:
    """--deployment-prior as fit_best takes it: a float, or {label: share} from
    CLASS=SHARE pairs (labels matched as --pos-label matches them)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    shares: dict[object, object] = {}
    for item in text.split(","):
        name, sep, value = item.rpartition("=")
        try:
            share = float(value)
        except ValueError:
            share = None
        if not sep or not name.strip() or share is None:
            raise bf.exceptions.InvalidParameterError(
                f"--deployment-prior {text!r}: {item!r} is not CLASS=SHARE. Give one "
                "share of the --pos-label class (e.g. 0.01) or CLASS=SHARE for every "
                "class, comma-separated (e.g. fraud=0.01,ok=0.99)."
            )
        shares[_pos_label(name.strip(), y, "--deployment-prior")] = share
    return shares


def _progress_callback(bar: Progress, task) -> object:
    def on_progress(done: int, total: int, description: str) -> None:
        bar.update(task, completed=done, total=total, description=description)

    return on_progress


def _version(value: bool) -> None:
    if value:
        console.print(f"balanceflow {bf.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """Find out which class-imbalance remedy works for a Keras model on your data."""


def _check_report_folder(path: Path | None) -> None:
    """Refuse, before any training, a --report that names a file or a place that cannot
    be written (the results store checks --out itself)."""
    from balanceflow._validation import writable_folder

    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise bf.exceptions.InvalidParameterError(
            f"--report {str(path)!r} is a file; it must name a folder (made if missing)."
        )
    if writable_folder(path) is None:
        raise bf.exceptions.InvalidParameterError(
            f"--report {str(path)!r} cannot be written: it is not in a writable folder. "
            "Choose another place."
        )


def _write_report(result, directory: Path, metric: str) -> None:
    """The HTML report (figures embedded) and one PNG per figure, in ``directory``."""
    from balanceflow.report import from_compare

    directory.mkdir(parents=True, exist_ok=True)
    document = from_compare(
        result,
        threshold=result.thresholds() if result.positive is not None else None,
        metric=metric,
        title=f"balanceflow compare: {result.dataset}",
    )
    path = directory / "report.html"
    document.to_html(path)
    figures = document.save_figures(directory)
    errors.print(
        f"Wrote {escape(str(path))} and {len(figures)} figure(s) to {escape(str(directory))}"
    )


def _progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]training[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )


def _render_data_checks(checks: Any) -> None:
    """One line per finding: its first sentence (the rest is in --format json and the
    report)."""
    if checks is None or not checks.findings:
        return
    warned = len(checks.warnings)
    console.print(
        f"[bold]Data checks[/]: {warned} warning(s), {len(checks.findings) - warned} "
        "note(s) (details: --format json or --report)"
    )
    for finding in checks.findings:
        first = finding.summary.split(". ")[0].rstrip(".") + "."
        mark = "[yellow]![/]" if finding.severity == "warning" else "·"
        console.print(f" {mark} {escape(first)}")


def _render_table(result: bf.CompareResult, metric: str, source: str) -> None:
    from balanceflow.metrics import METRIC_NAMES
    from balanceflow.model_selection import BASELINE_NOTE, METRIC_LABELS

    settings = result.settings
    # Names and labels come from the user's data: escape them from Rich markup.
    counts = ", ".join(
        f"{escape(str(c))}: {n}" for c, n in zip(result.classes, result.class_counts)
    )
    console.print(
        f"[bold]{escape(source)}[/] · {sum(result.class_counts)} rows · classes {counts} · "
        f"imbalance ratio {result.imbalance_ratio:.1f}"
    )
    decision = (
        f"threshold {settings['threshold']} on P({escape(str(settings['pos_label']))})"
        if settings.get("pos_label") is not None
        else "most probable class"
    )
    console.print(
        f"{settings['n_splits']}-fold stratified CV (seed {settings['seed']}), "
        f"{escape(settings['model'])}, {_epochs_text(settings)}, batch {settings['batch_size']}, "
        f"{decision}; mean ± std over folds"
    )
    if settings.get("engine"):
        console.print(f"engine {escape(settings['engine'])}", style="dim")
    _render_data_checks(result.data_checks)
    table = Table(show_lines=False, header_style="bold")
    info = result.statistics(metric)
    table.add_column("#", justify="right")
    table.add_column("strategy", no_wrap=True)
    table.add_column("≈best", justify="center")
    for m in METRIC_NAMES:
        title = METRIC_LABELS[m] + (" ▼" if m == metric else "")
        table.add_column(title, justify="right")
    calibration = [m for m in ("brier", "ece") if m in result.metrics]
    for m in calibration:
        sorted_by = metric in (m, f"{m}_corrected")
        table.add_column(
            f"{METRIC_LABELS[m]} → corr." + (" ▼" if sorted_by else ""), justify="right"
        )
    board = result.leaderboard(metric)
    best = {m: board[(m, "mean")].max() for m in METRIC_NAMES}
    for m in calibration:
        best[m] = board[(f"{m}_corrected", "mean")].min()
    for rank, (name, row) in enumerate(board.iterrows(), start=1):
        cells = []
        for m in METRIC_NAMES:
            text = f"{row[(m, 'mean')]:.3f} ± {row[(m, 'std')]:.3f}"
            cells.append(
                f"[bold green]{text}[/]" if row[(m, "mean")] == best[m] else text
            )
        for m in calibration:
            raw, fixed = row[(m, "mean")], row[(f"{m}_corrected", "mean")]
            text = f"{fixed:.3f}"
            text = f"[bold green]{text}[/]" if fixed == best[m] else text
            cells.append(text if abs(raw - fixed) < 5e-4 else f"{raw:.3f} → {text}")
        tied = (
            "=" if name in info["indistinguishable"] and info["n_blocks"] >= 6 else ""
        )
        if name in result.baselines:
            table.add_row(
                str(rank), escape(f"{name} (baseline)"), tied, *cells, style="italic"
            )
        else:
            table.add_row(str(rank), escape(str(name)), tied, *cells)
    console.print(table)
    if result.baselines:
        console.print(BASELINE_NOTE, style="dim")
    if calibration:
        console.print(
            "Brier, ECE: as trained → corrected to the data's class prior where the "
            "strategy changed it (resampling, class weights, balanced losses); lower is "
            "better.",
            style="dim",
        )
    if info["n_blocks"] >= 6 and np.isfinite(info["friedman_p"]):
        console.print(
            f"Friedman test across strategies: p = {info['friedman_p']:.3g}; '=' marks the "
            f"strategies that a Holm-corrected Wilcoxon test cannot tell apart from the best "
            f"(p >= {info['alpha']})."
        )
    console.print()
    console.print(escape(result.recommendation(metric)), soft_wrap=False)


# Options that `compare` and `fit` share, declared once.
StrategyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--strategy",
        "-s",
        help="Strategy to run (repeatable): a preset (none, class_weight, over, under, "
        "focal, ldam_drw, ...; NAME+tuned tunes its threshold), 'default' or 'all'.",
    ),
]
NSplitsOption = Annotated[int, typer.Option(help="Number of stratified folds.")]
RepeatsOption = Annotated[
    int,
    typer.Option(help="Repeats of the K-fold split (more make the tests meaningful)."),
]
NJobsOption = Annotated[
    int,
    typer.Option(
        "--n-jobs", help="Worker processes for the trials (-1: one per core)."
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(help="Run on an existing Dask scheduler, e.g. tcp://127.0.0.1:8786."),
]


class Engine(str, Enum):
    auto = "auto"
    fused = "fused"
    loop = "loop"


EngineOption = Annotated[
    Engine,
    typer.Option(
        help="fused: train many models as one stacked computation (fast); loop: one at "
        "a time; auto: fused where the model allows. Same results up to round-off."
    ),
]
BaselinesOption = Annotated[
    str,
    typer.Option(
        help="Reference models beside the Keras strategies, on the same folds: 'auto' "
        "(hgb_balanced and balanced_rf for tables), 'none', or a comma-separated list "
        "of hgb_balanced, balanced_rf, easy_ensemble."
    ),
]


def _baselines(text: str) -> str | list[str]:
    """--baselines as compare takes it: 'auto', 'none' or a list of names."""
    text = text.strip()
    if text in ("auto", "none"):
        return text
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise bf.exceptions.InvalidParameterError(
            f"--baselines {text!r} has an empty name. Use 'auto', 'none' or names "
            "separated by commas, e.g. --baselines hgb_balanced,balanced_rf."
        )
    return names


SeedOption = Annotated[int, typer.Option(help="Seed of folds, weights and samplers.")]


def _auto_or_int(text: str) -> int | str:
    """An option that takes 'auto' or a whole number (range checked by the Recipe)."""
    if isinstance(text, int) or text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter("use 'auto' or a whole number, e.g. 30") from None


EpochsOption = Annotated[
    Any,
    typer.Option(
        parser=_auto_or_int,
        metavar="auto|N",
        help="Epochs per model: 'auto' (a budget from the table's size, with early "
        "stopping on held-out training rows where every class has 200+ rows, else at "
        "most 60) or exactly N.",
    ),
]
EarlyStoppingOption = Annotated[
    bool | None,
    typer.Option(
        "--early-stopping/--no-early-stopping",
        help="Stop each model on 10% of its own training rows and keep its best epoch "
        "(default: on with --epochs auto where every class has 200+ rows, else off).",
        show_default=False,
    ),
]
BatchSizeOption = Annotated[
    Any,
    typer.Option(
        parser=_auto_or_int,
        metavar="auto|N",
        help="Training batch size: 'auto' (64, growing with the table to 2048) or N.",
    ),
]
MetricOption = Annotated[
    str, typer.Option(help="Metric that orders the leaderboard and picks the best.")
]
PosLabelOption = Annotated[
    str | None,
    typer.Option(
        help="Binary: the positive class, whose probability thresholds apply to "
        "(default: the minority class)."
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        help="TOML file with your own [strategies.NAME] (run with the others)."
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        help="A built-in model (mlp: the default; tabm: TabM, 32 implicit members, "
        "slower) or your Keras model builder as module:function, called as "
        "function(input_shape, n_classes); the module is found from the current directory."
    ),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="table for people, json for programs.")
]


def _check_metric(metric: str, *, calibration: bool = False) -> None:
    """--metric: compare ranks by any leaderboard metric; fit selects by a ranking or
    label metric."""
    from balanceflow.metrics import BOARD_METRICS, METRIC_NAMES

    known = BOARD_METRICS if calibration else METRIC_NAMES
    if metric not in known:
        raise bf.exceptions.InvalidParameterError(
            f"Unknown --metric {metric!r}. Use one of {list(known)}."
        )


def _watched(output_format: OutputFormat) -> bool:
    """Draw the progress bar (on stderr) only when a person watches the output."""
    return (
        output_format is OutputFormat.table
        and sys.stdout.isatty()
        and sys.stderr.isatty()
    )


@app.command("compare")
@_known_errors
def compare_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="CSV or Parquet file; omit it to run on a shipped real dataset."
        ),
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option("--target", "-t", help="Name of the label column in FILE."),
    ] = None,
    strategy: StrategyOption = None,
    n_splits: NSplitsOption = 5,
    repeats: RepeatsOption = 1,
    n_jobs: NJobsOption = 1,
    scheduler: SchedulerOption = None,
    engine: EngineOption = Engine.auto,
    baselines: BaselinesOption = "auto",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Directory for the resumable results store (and the report)."
        ),
    ] = None,
    seed: SeedOption = 0,
    epochs: EpochsOption = "auto",
    batch_size: BatchSizeOption = "auto",
    early_stopping: EarlyStoppingOption = None,
    threshold: Annotated[
        float,
        typer.Option(
            help="Binary decision threshold on the positive (by default minority) class's "
            "probability."
        ),
    ] = 0.5,
    pos_label: PosLabelOption = None,
    metric: MetricOption = "pr_auc",
    tune_threshold: Annotated[
        str | None,
        typer.Option(
            help="Also run every strategy with its threshold tuned for this objective "
            "(g_mean, f1, mcc, ...) on an inner split of each training fold."
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Write an HTML report (and PNG figures) to this directory."),
    ] = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Run every strategy under stratified cross-validation and print a leaderboard."""
    _check_metric(metric, calibration=True)
    if file is None:
        if target:
            raise bf.exceptions.InvalidParameterError(
                "--target names a column of FILE, but no FILE was given."
            )
        source = f"{DEFAULT_DATASET} (shipped KEEL dataset)"
        X, y = bf.datasets.load(DEFAULT_DATASET)
        if output_format is OutputFormat.table:
            console.print(
                f"No file given: running on the shipped dataset [bold]{DEFAULT_DATASET}[/] "
                "(see `balanceflow datasets`; pass FILE --target COL for your own data)."
            )
    else:
        from balanceflow.cli._io import read_table, split_target

        source = str(file)
        X, y = split_target(read_table(file), _one_target(target), source)
    recipe = _recipe(model, epochs, batch_size, seed, early_stopping)
    strategies = _strategies(strategy, config)
    references = _baselines(baselines)
    _check_report_folder(report)
    if n_jobs == 1 and scheduler is None:
        # Trials run here. With workers, each one imports TensorFlow itself; the parent
        # only scores their predictions and does not start it.
        import_keras_quietly()
    with _progress_bar(_watched(output_format)) as bar:
        result = bf.compare(
            X,
            y,
            strategies=strategies,
            recipe=recipe,
            n_splits=n_splits,
            n_repeats=repeats,
            threshold=threshold,
            pos_label=_pos_label(pos_label, y),
            progress=_progress_callback(bar, bar.add_task("", total=None)),
            n_jobs=n_jobs,
            scheduler=scheduler,
            out=out,
            tune_threshold=tune_threshold,
            engine=engine.value,
            baselines=references,
        )
    result.dataset = source
    if report is not None:
        _write_report(result, report, metric)
    if output_format is OutputFormat.json:
        print(json.dumps(result.to_dict(metric), indent=2))
    else:
        _render_table(result, metric, source)


@app.command("fit")
@_known_errors
def fit_command(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet training table.")],
    target: Annotated[
        list[str], typer.Option("--target", "-t", help="Name of the label column.")
    ],
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            "-s",
            help="'best' (chosen by cross-validation among --candidate) or a strategy name "
            "(a preset or one of --config).",
        ),
    ] = "best",
    candidate: Annotated[
        list[str] | None,
        typer.Option(
            help="With --strategy best: a candidate strategy (repeatable; default "
            "'default'). The strategies of --config are candidates too."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Where to write the model (.keras).")
    ] = Path("model.keras"),
    metric: MetricOption = "pr_auc",
    objective: Annotated[
        str, typer.Option(help="What the decision threshold is tuned for (binary).")
    ] = "g_mean",
    holdout: Annotated[
        float | None,
        typer.Option(
            help="Share of rows held out to tune the threshold and report on "
            "(default: tune on the cross-validation's out-of-fold predictions and "
            "train on every row)."
        ),
    ] = None,
    vote: Annotated[
        int,
        typer.Option(
            help="Also try soft votes of the 2..VOTE best strategies (scored on the same "
            "folds, no extra training); 1 turns this off."
        ),
    ] = 3,
    bag: Annotated[
        int,
        typer.Option(
            help="Train the chosen strategy BAG times (different seeds) on all the rows "
            "and on each training fold, and average every model; 0: one model on all "
            "the rows."
        ),
    ] = 3,
    n_splits: NSplitsOption = 5,
    repeats: RepeatsOption = 1,
    seed: SeedOption = 0,
    epochs: EpochsOption = "auto",
    batch_size: BatchSizeOption = "auto",
    early_stopping: EarlyStoppingOption = None,
    pos_label: PosLabelOption = None,
    n_jobs: NJobsOption = 1,
    scheduler: SchedulerOption = None,
    engine: EngineOption = Engine.auto,
    baselines: BaselinesOption = "auto",
    calibrate: Annotated[
        bool,
        typer.Option(
            help="Bring every model's probabilities from the prior it trained under "
            "(resampled, weighted) to the data's class prior, or to --deployment-prior; "
            "the threshold is tuned on those probabilities."
        ),
    ] = True,
    deployment_prior: Annotated[
        str | None,
        typer.Option(
            help="The class shares where the model will be used: one share of the "
            "--pos-label class (binary, e.g. 0.01) or CLASS=SHARE,... for every class "
            "(default: the training data's shares)."
        ),
    ] = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Pick the strategy by cross-validation, train it, tune its threshold, save it."""
    from balanceflow.cli._io import read_table, split_target
    from balanceflow.model_selection import check_model_path

    _check_metric(metric)
    check_model_path(out)
    X, y = split_target(read_table(file), _one_target(target), str(file))
    recipe = _recipe(model, epochs, batch_size, seed, early_stopping)
    candidates = _strategies(candidate, config)
    references = _baselines(baselines)
    shares = _deployment_prior(deployment_prior, y)
    if strategy != "best":
        named = [s for s in candidates if getattr(s, "name", None) == strategy]
        strategy = named[0] if named else strategy
    import_keras_quietly()
    from balanceflow.model_selection import fit_best

    with _progress_bar(_watched(output_format)) as bar:
        fitted = fit_best(
            X,
            y,
            strategy=strategy,
            candidates=candidates,
            metric=metric,
            objective=objective,
            holdout=holdout,
            vote=vote,
            bag=bag,
            recipe=recipe,
            n_splits=n_splits,
            n_repeats=repeats,
            pos_label=_pos_label(pos_label, y),
            n_jobs=n_jobs,
            scheduler=scheduler,
            engine=engine.value,
            baselines=references,
            calibrate=calibrate,
            deployment_prior=shares,
            progress=_progress_callback(bar, bar.add_task("", total=None)),
        )
    card_file = fitted.save(out)
    card = fitted.card
    if output_format is OutputFormat.json:
        print(json.dumps({"model": str(out), "card": str(card_file), **card}, indent=2))
        return
    _render_card(card, metric, n_splits, holdout is None)
    console.print(f"Wrote {escape(str(out))} and {escape(str(card_file))}")


def _render_card(card: dict, metric: str, n_splits: int, out_of_fold: bool) -> None:
    console.print(
        f"Strategy: [bold]{escape(card['strategy'])}[/] (selected by {metric} on "
        f"{card['selection']['rows']} rows, {n_splits}-fold CV)"
    )
    final = card["final_model"]
    if final["models"] > 1:
        console.print(
            f"Model: the average of {final['models']} models, trained on "
            f"{escape(final['trained_on'])}"
        )
    decision, tuning = card["decision"], card["threshold_tuning"]
    if decision["threshold"] is not None:
        positive = escape(str(decision["pos_label"]))
        console.print(
            f"Decision: {positive!r} when P({positive}) >= {decision['threshold']:.4f} "
            f"(tuned for {tuning['objective']} on {tuning['rows']} rows: "
            f"{escape(tuning['on'])})"
        )
    else:
        console.print(f"Decision: {escape(decision['rule'])}")
    shipped = card["calibration"]
    if shipped["target_prior"] is None:
        console.print(f"Probabilities: as trained, {escape(shipped['target'])}")
    else:
        shares = ", ".join(
            f"{escape(str(c))} {p:.3g}"
            for c, p in zip(card["classes"], shipped["target_prior"])
        )
        exactness = {
            "unchanged": "no correction needed",
            "exact": "exact",
            "approximate": "approximate: the loss also reshapes the probabilities",
            "unknown": "partly: no prior describes some models, left as trained",
        }[shipped["status"]]
        console.print(
            f"Probabilities: corrected to {escape(shipped['target'])} ({shares}; "
            f"{exactness})"
        )
    comparison = card["selection"].get("baselines")
    if comparison:
        console.print(escape(comparison["summary"]))
    metrics = tuning["metrics"]
    console.print(
        (
            "Out-of-fold (the threshold was tuned on these rows, so label metrics are "
            "optimistic): "
            if out_of_fold
            else "Held-out: "
        )
        + ", ".join(
            f"{name} {metrics[name]:.3f}" for name in ("pr_auc", "g_mean", "mcc")
        )
    )


@app.command("predict")
@_known_errors
def predict_command(
    model: Annotated[
        Path, typer.Argument(help="A model written by `balanceflow fit`.")
    ],
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet table with the same columns.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Write predictions to this CSV (default: stdout)."),
    ] = None,
) -> None:
    """Predict labels and class probabilities for a table."""
    from balanceflow.cli._io import read_table

    frame = read_table(file)
    import_keras_quietly()
    from balanceflow.model_selection import load_fitted

    fitted = load_fitted(model)
    target = fitted.card.get("target")
    if target in frame.columns and target not in fitted.schema.columns:
        frame = frame.drop(columns=[target])
        errors.print(
            f"Ignoring the column {escape(repr(target))} of {escape(str(file))}: it is the "
            "label the model was trained to predict."
        )
    proba = fitted.predict_proba(frame, str(file))
    result = pd.DataFrame({"label": fitted.labels_from_proba(proba)}, index=frame.index)
    for i, label in enumerate(fitted.classes):
        result[f"proba_{label}"] = proba[:, i]
    if out is None:
        sys.stdout.write(result.to_csv(index=False))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    result.to_csv(tmp, index=False)
    os.replace(tmp, out)
    errors.print(f"Wrote {len(result)} predictions to {escape(str(out))}")


@app.command("datasets")
@_known_errors
def datasets_command(
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="table for people, json for programs."),
    ] = OutputFormat.table,
) -> None:
    """List the real datasets shipped with balanceflow."""
    frame = pd.concat([bf.datasets.describe(), _digits_row()], ignore_index=True)
    if output_format is OutputFormat.json:
        print(frame.to_json(orient="records", indent=2))
        return
    table = Table(header_style="bold")
    for column in frame.columns:
        table.add_column(
            str(column), justify="left" if frame[column].dtype == object else "right"
        )
    for _, row in frame.iterrows():
        table.add_row(*[str(v) for v in row.tolist()])
    console.print(table)
    console.print(f"`balanceflow compare` with no file runs on {DEFAULT_DATASET}.")
    console.print(
        "digits_lt is an image set, built from scikit-learn's bundled digits: in Python, "
        "X_train, y_train, X_test, y_test = bf.datasets.digits_lt() (a balanced test set; "
        "imbalance_ratio= sets the tail)."
    )


def _digits_row() -> pd.DataFrame:
    """The long-tailed digits at their defaults, in the columns of describe()."""
    _, y_train, _, _ = bf.datasets.digits_lt()
    counts = np.bincount(y_train)
    return pd.DataFrame(
        [
            {
                "name": "digits_lt",
                "domain": "images, handwritten digits (8x8), long-tailed",
                "rows": len(y_train),
                "features": 64,
                "nominal_features": 0,
                "minority": int(counts.min()),
                "majority": int(counts.max()),
                "classes": len(counts),
                "imbalance_ratio": round(float(counts.max() / counts.min()), 2),
            }
        ]
    )


def main() -> None:
    """Entry point of the ``balanceflow`` command."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app()
