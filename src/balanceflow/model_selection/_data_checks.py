"""A look at the data itself: what in it limits any remedy, or flatters every score.

Benchmarks of imbalance methods find that data quality (duplicates, label noise, class
overlap, missing values) often matters more than the imbalance ratio. ``compare`` runs
these checks before any model trains (:func:`check_data`) and, once the out-of-fold
probabilities exist, looks for labels that the data contradicts (:func:`label_issues`).
Each :class:`Finding` says what was found and what it means for the user; a check that
finds nothing worth saying adds nothing, so clean data gets an empty list.

The neighbour-based checks (near-duplicates across folds, class overlap) use the
features standardised and one-hot encoded on all rows (inspection only, nothing is
trained on it), and at most :data:`MAX_NEIGHBOUR_ROWS` rows drawn at random.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DataChecks", "Finding", "check_data", "label_issues"]

#: Rows the neighbour-based checks look at, at most (drawn at random, every rare row kept
#: first).
MAX_NEIGHBOUR_ROWS = 20_000
#: Neighbours of the overlap estimate.
OVERLAP_K = 5
#: Row indices listed per finding, at most.
MAX_LISTED = 20


@dataclass(frozen=True)
class Finding:
    """One thing found in the data.

    Attributes
    ----------
    check : str
        ``"duplicates"``, ``"conflicting_labels"``, ``"near_duplicates"``, ``"overlap"``,
        ``"missingness"``, ``"leak"``, ``"id_column"`` or ``"label_issues"``.
    severity : {"warning", "note"}
        A warning can make the comparison misleading; a note limits what any method can do.
    summary : str
        What was found and what it means, in one or two sentences.
    rows : list of int
        Positions of (at most 20 of) the rows involved.
    details : dict
        The numbers behind the summary.
    """

    check: str
    severity: str
    summary: str
    rows: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataChecks:
    """The findings of the data checks, and which checks ran."""

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    overlap: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": list(self.checked),
            "overlap": self.overlap,
            "findings": [asdict(f) for f in self.findings],
        }

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


def _listed(rows: Any) -> list[int]:
    return [int(r) for r in list(rows)[:MAX_LISTED]]


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def check_data(
    features: Any,
    codes: np.ndarray,
    classes: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    positive: int | None,
    seed: int = 0,
) -> DataChecks:
    """Every check that needs no trained model, on the rows ``compare`` will use.

    ``features`` are the cleaned columns (a DataFrame) or a 2-D array; other inputs
    (images) are not checked. ``folds`` are the (train, test) rows of the first repeat.
    A check that cannot read these features (cells that are lists, say) is listed in
    ``checked`` as skipped, with the reason, instead of stopping the comparison.
    """
    result = DataChecks()
    if isinstance(features, pd.DataFrame):
        frame = features
    elif np.ndim(features) == 2:
        frame = pd.DataFrame(np.asarray(features))
    else:
        return result
    codes = np.asarray(codes)
    label = [str(c) for c in classes]
    rare = positive if positive is not None else int(np.argmin(np.bincount(codes)))
    rng = np.random.default_rng(seed)
    # The neighbour checks look at one sample: every rare row first (up to half of it),
    # the rest drawn at random.
    sample = _sample(len(codes), rng, keep_first=np.flatnonzero(codes == rare))

    def run(name: str, check: Any) -> Any:
        try:
            out = check()
        except (TypeError, ValueError) as error:
            result.checked.append(f"{name} (skipped: {type(error).__name__}: {error})")
            return None
        result.checked.append(name)
        return out

    for name, check in (
        ("duplicates", lambda: _duplicates(frame, codes, label, folds)),
        ("missingness", lambda: _missingness(frame, codes, label)),
        ("leak and id columns", lambda: _leaks_and_ids(frame, codes, label, rare)),
    ):
        result.findings += run(name, check) or []
    matrix = run("encoding", lambda: _numeric(frame.iloc[sample]))
    if matrix is None or len(matrix) <= OVERLAP_K + 1:
        return result
    result.checked.remove("encoding")
    result.findings += (
        run("near_duplicates", lambda: _near_duplicates(matrix, sample, folds)) or []
    )
    overlap = run("overlap", lambda: _overlap(matrix, codes[sample], label, rare))
    if overlap is not None:
        result.overlap, finding = overlap
        if finding is not None:
            result.findings.append(finding)
    return result


def _duplicates(
    frame: pd.DataFrame,
    codes: np.ndarray,
    label: list[str],
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> list[Finding]:
    keys = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    repeated = pd.Series(keys).duplicated(keep=False).to_numpy()
    if not repeated.any():
        return []
    findings = []
    groups = pd.DataFrame({"key": keys[repeated], "code": codes[repeated]})
    labels_per_group = groups.groupby("key")["code"].nunique()
    conflicting = labels_per_group[labels_per_group > 1].index
    extra = int(repeated.sum() - len(labels_per_group))  # rows beyond one per group
    straddle = 0
    for train, test in folds:
        straddle += int(np.isin(keys[test], keys[train]).sum())
    n = len(codes)
    # Few values per column: identical rows are expected, not a sign of copied cases.
    discrete = all(frame[c].nunique(dropna=False) <= 20 for c in frame.columns)
    meaning = (
        "Every column takes few values, so identical rows are expected; they flatter "
        "the scores only if they are the same case recorded twice."
        if discrete
        else "That flatters every score (a model is tested on rows it has seen) if they "
        "are the same case recorded twice: then drop the copies, or keep them together "
        "with a group split."
    )
    findings.append(
        Finding(
            "duplicates",
            "warning" if straddle and not discrete else "note",
            f"{extra} rows ({_share(extra, n)}) repeat another row's features exactly "
            f"({len(labels_per_group)} groups); {straddle} test-fold rows have a copy in "
            f"their own training fold. {meaning}",
            _listed(np.flatnonzero(repeated)),
            {
                "extra_rows": extra,
                "groups": len(labels_per_group),
                "straddling": straddle,
            },
        )
    )
    if len(conflicting):
        bad = np.flatnonzero(np.isin(keys, conflicting.to_numpy()))
        findings.append(
            Finding(
                "conflicting_labels",
                "warning",
                f"{len(conflicting)} groups of identical rows ({len(bad)} rows) carry "
                "different labels: no model can get them all right, so they cap every "
                "score. Check how those rows were labelled, or whether a feature that "
                "tells them apart is missing.",
                _listed(bad),
                {"groups": len(conflicting), "rows": len(bad)},
            )
        )
    return findings


def _missingness(
    frame: pd.DataFrame, codes: np.ndarray, label: list[str]
) -> list[Finding]:
    missing = frame.isna()
    if not missing.to_numpy().any():
        return []
    findings = []
    for column in frame.columns[missing.any().to_numpy()]:
        rates = missing[column].groupby(codes).mean()
        low, high = rates.idxmin(), rates.idxmax()
        gap = float(rates[high] - rates[low])
        if gap < 0.1:
            continue
        findings.append(
            Finding(
                "missingness",
                "warning",
                f"Column {str(column)!r} is missing in {rates[high]:.0%} of the "
                f"{label[high]!r} rows but {rates[low]:.0%} of the {label[low]!r} rows: "
                "whether it is missing predicts the label. If the value is only recorded "
                "after the outcome (or only for one class), that is a leak; the "
                "imputation hides it from you but not from the model.",
                [],
                {
                    "column": str(column),
                    "rate_by_class": {label[k]: float(v) for k, v in rates.items()},
                },
            )
        )
    return findings


def _looks_like_id(values: pd.Series, n: int) -> bool:
    """Text with a different value in every row, or integers that do so and either count
    up or down (a row number) or sit in a column named like an ID. Other all-distinct
    integers (amounts in cents, say) are plausible features."""
    if n < 20 or values.isna().any() or values.nunique() != n:
        return False
    kind = values.dtype
    if pd.api.types.is_bool_dtype(kind) or pd.api.types.is_datetime64_any_dtype(kind):
        return False
    if pd.api.types.is_integer_dtype(kind):
        named = "id" in str(values.name).lower().replace("_", " ").split()
        return bool(
            values.is_monotonic_increasing or values.is_monotonic_decreasing or named
        )
    return not pd.api.types.is_numeric_dtype(kind)


def _leaks_and_ids(
    frame: pd.DataFrame, codes: np.ndarray, label: list[str], rare: int
) -> list[Finding]:
    """Columns that look like IDs, and columns that alone separate the rare class from
    the rest (ROC-AUC >= 0.99 of the value, or of the rare class's rate in the row's
    category, small categories pooled)."""
    from sklearn.metrics import roc_auc_score

    findings = []
    n = len(codes)
    truth = codes == rare
    for column in frame.columns:
        values = frame[column]
        if _looks_like_id(values, n):
            findings.append(
                Finding(
                    "id_column",
                    "warning",
                    f"Column {str(column)!r} holds a different value in every row, like "
                    "an ID: a model can only memorise it, and in a file sorted by label it "
                    "gives the answer away. Drop it unless it means something.",
                    [],
                    {"column": str(column), "unique": int(values.nunique())},
                )
            )
            continue
        known = values.notna().to_numpy()
        hits = truth[known]
        if hits.sum() < 10 or hits.all():  # too few rare rows to judge
            continue
        kind = values.dtype
        unique = values.nunique(dropna=True)
        if pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind):
            score = values.to_numpy(dtype=np.float64)[known]
        elif 1 < unique <= 50:  # the rare class's rate per category
            # Categories of fewer than 10 rows share one rate, so that a category of a
            # single rare row cannot separate it by construction. (A leave-one-out rate
            # would be worse: within every category it ranks the rare rows below the
            # others, a separation of its own making.)
            cells = values[known].to_numpy(dtype=object)
            sizes = pd.Series(cells).map(pd.Series(cells).value_counts()).to_numpy()
            groups = np.where(sizes >= 10, cells, "(small categories)")
            score = (
                pd.Series(hits.astype(np.float64))
                .groupby(groups.astype(str))
                .transform("mean")
                .to_numpy()
            )
        else:
            continue
        auc = roc_auc_score(hits, score)
        auc = max(auc, 1.0 - auc)
        if auc >= 0.99:
            findings.append(
                Finding(
                    "leak",
                    "warning",
                    f"Column {str(column)!r} alone separates the {label[rare]!r} rows "
                    f"from the rest (ROC-AUC {auc:.3f}): a label in disguise, or a value "
                    "recorded after the outcome? If so, drop it; every score with it is "
                    "too good to be true. If not, a single threshold on it is your model.",
                    [],
                    {"column": str(column), "roc_auc": float(auc)},
                )
            )
    return findings


def _numeric(frame: pd.DataFrame) -> np.ndarray | None:
    """The features as a standardised numeric matrix (inspection only)."""
    from balanceflow.model_selection._preprocessing import (
        clean_features,
        make_preprocessor,
    )

    clean, numeric, categorical = clean_features(frame)
    matrix = np.asarray(
        make_preprocessor(numeric, categorical).fit_transform(clean), dtype=np.float64
    )
    return matrix if matrix.ndim == 2 and matrix.shape[1] else None


def _sample(
    n: int, rng: np.random.Generator, keep_first: np.ndarray | None = None
) -> np.ndarray:
    """At most MAX_NEIGHBOUR_ROWS sorted row positions: ``keep_first`` (up to half of
    them, drawn at random if more) and the rest drawn at random."""
    if n <= MAX_NEIGHBOUR_ROWS:
        return np.arange(n)
    first = np.asarray([] if keep_first is None else keep_first, dtype=np.int64)
    if len(first) > MAX_NEIGHBOUR_ROWS // 2:
        first = rng.choice(first, MAX_NEIGHBOUR_ROWS // 2, replace=False)
    rest = np.setdiff1d(np.arange(n), first)
    more = rng.choice(rest, MAX_NEIGHBOUR_ROWS - len(first), replace=False)
    return np.sort(np.concatenate([first, more]))


def _near_duplicates(
    matrix: np.ndarray, sample: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
) -> list[Finding]:
    """Test rows closer to a training row of their fold than one in a thousand of the
    typical neighbour distance, without being exact copies (among the sampled rows:
    ``matrix`` holds the rows ``sample``)."""
    from sklearn.neighbors import NearestNeighbors

    distance, _ = NearestNeighbors(n_neighbors=2).fit(matrix).kneighbors(matrix)
    positive = distance[:, 1][distance[:, 1] > 0]
    if not positive.size:
        return []
    tolerance = 1e-3 * float(np.median(positive))
    position = np.full(int(sample.max()) + 1, -1)
    position[sample] = np.arange(len(sample))
    found: list[int] = []
    for train, test in folds:
        train_at = position[train[train <= sample.max()]]
        test_rows = test[test <= sample.max()]
        test_at = position[test_rows]
        train_at, keep = train_at[train_at >= 0], test_at >= 0
        if not len(train_at) or not keep.any():
            continue
        gap, _ = (
            NearestNeighbors(n_neighbors=1)
            .fit(matrix[train_at])
            .kneighbors(matrix[test_at[keep]])
        )
        close = (gap[:, 0] > 0) & (gap[:, 0] <= tolerance)
        found += test_rows[keep][close].tolist()
    if not found:
        return []
    return [
        Finding(
            "near_duplicates",
            "warning",
            f"{len(found)} test-fold rows are near-copies of a row in their own training "
            "fold (closer than a thousandth of the typical distance between rows, after "
            "standardising): the same case recorded twice with tiny differences flatters "
            "every score. Look at them; group them if they are one case.",
            _listed(sorted(found)),
            {"rows": len(found), "tolerance": tolerance},
        )
    ]


def _overlap(
    matrix: np.ndarray, codes: np.ndarray, label: list[str], rare: int
) -> tuple[float, Finding | None]:
    """The share of the rare class's rows whose 5 nearest neighbours are mostly of other
    classes (a kNN estimate of class overlap, on the sampled rows)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(OVERLAP_K, len(codes) - 1)
    _, neighbours = (
        NearestNeighbors(n_neighbors=k + 1)
        .fit(matrix)
        .kneighbors(matrix[codes == rare])
    )
    others = (codes[neighbours[:, 1:]] != rare).sum(axis=1)
    share = float(np.mean(others > k / 2))
    if share < 0.5:
        return share, None
    return share, Finding(
        "overlap",
        "note",
        f"{share:.0%} of the {label[rare]!r} rows have mostly other-class rows among their "
        f"{k} nearest neighbours (standardised features): the classes overlap there. That "
        "caps precision for any remedy; features that separate those rows matter more "
        "than the choice of strategy.",
        [],
        {"share": share, "k": k},
    )


def label_issues(
    proba: np.ndarray,
    codes: np.ndarray,
    classes: np.ndarray,
    source: str,
    overlap: float | None = None,
) -> Finding | None:
    """Rows whose label the out-of-fold probabilities of ``source`` contradict.

    After confident learning (Northcutt et al., 2021): class ``j``'s threshold ``t_j`` is
    the mean out-of-fold probability of ``j`` over the rows labelled ``j``, the
    confidence that class typically gets. A row labelled ``y`` is suspect when its own
    class gets less than that (``P(y) < t_y``) and another class ``j`` gets at least
    twice as much of its typical confidence (``P(j) / t_j >= 2 P(y) / t_y``). Measuring
    each class against its own typical confidence makes it fair to rare classes, which
    any model scores low. Where the rare class mostly overlaps the others (``overlap``,
    the share from :func:`check_data`, at least 0.5) most suspects are hard cases, not
    wrong labels, and the finding is a note.
    """
    proba = np.asarray(proba, dtype=np.float64)
    codes = np.asarray(codes)
    keep = np.isfinite(proba).all(axis=1)
    if not keep.any():
        return None
    k = proba.shape[1]
    present = [keep & (codes == j) for j in range(k)]
    thresholds = np.array(
        [
            proba[rows, j].mean() if rows.any() else np.inf
            for j, rows in enumerate(present)
        ]
    )
    relative = np.divide(
        proba, thresholds, out=np.zeros_like(proba), where=thresholds > 0
    )
    index = np.arange(len(codes))
    own = relative[index, codes]
    other = relative.copy()
    other[index, codes] = -np.inf
    rival = other.argmax(axis=1)
    suspect = keep & (own < 1.0) & (other.max(axis=1) >= 2.0 * own)
    if not suspect.any():
        return None
    margin = other.max(axis=1) - own
    order = np.flatnonzero(suspect)[np.argsort(-margin[suspect], kind="stable")]
    n = len(codes)
    share = suspect.sum() / n
    names = [str(c) for c in classes]
    pairs = pd.Series(
        [f"{names[codes[i]]} -> {names[rival[i]]}" for i in order]
    ).value_counts()
    entangled = overlap is not None and overlap >= 0.5
    meaning = (
        "With classes this entangled most of them are likely hard cases rather than "
        "wrong labels."
        if entangled
        else "Look at the first ones listed: a few per cent of wrong labels cap every "
        "score."
    )
    return Finding(
        "label_issues",
        "warning" if share >= 0.05 and not entangled else "note",
        f"{suspect.sum()} rows ({_share(suspect.sum(), n)}) have a label that {source}'s "
        "out-of-fold probabilities contradict (after confident learning): mislabelled "
        f"rows, or the hardest cases. {meaning}",
        _listed(order),
        {
            "rows": int(suspect.sum()),
            "by_label": {k2: int(v) for k2, v in pairs.items()},
            "source": source,
        },
    )
