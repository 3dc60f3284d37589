"""Draw plans: which rows each draw of a balanced pipeline uses, and in which order (numpy only).

A *draw* is one balanced sample of the data: ``target[c]`` rows of every class ``c``. The plan
holds row positions (and, for interpolation, partner positions and mixing weights), never
rows: the pipeline gathers the rows from the caller's arrays batch by batch.

Three facts make the pipelines behave as documented:

- **Walks.** Whenever a class gives fewer rows to a draw than it has, the rows come from a
  walk through a random permutation of the class: draw ``d`` takes the ``d``-th slice of
  the permutation, and a new permutation starts when one is used up. So the ``m =
  ceil(n / t)`` draws of one cycle use every row of the class (the last slice is topped up
  with rows from the start of the same permutation, so no row repeats inside a draw).
- **Interleaving.** Rows of a draw are laid out so that every stretch of consecutive rows
  holds the classes in the draw's proportions (a Sainte-Laguë / Webster sequence). Any
  batch cut from the sequence, and any contiguous slice of a batch (what each replica
  receives under ``tf.distribute.MirroredStrategy``), is balanced to within a row or two
  per class.
- **Seeds.** Each draw's randomness comes from a seed derived from ``(seed, draw index)``
  with :func:`balanceflow._validation.derive_seed`, so the same seed gives the same draws
  in every process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from balanceflow._validation import derive_seed

__all__ = ["Draw", "DrawPlanner", "interleave_order", "walk_cycle_length"]


def _index_dtype(n: int) -> np.dtype:
    return np.dtype(np.int32) if n < 2**31 - 1 else np.dtype(np.int64)


def walk_cycle_length(n_rows: int, per_draw: int) -> int:
    """Number of draws after which a walk of ``per_draw`` rows per draw has used all ``n_rows``."""
    return -(-n_rows // per_draw)


def interleave_order(counts: list[int] | np.ndarray) -> np.ndarray:
    """Order that interleaves class-major entries so that every stretch is balanced.

    Entries are laid out class by class (``counts[0]`` entries of class 0, then class 1...);
    ``entries[order]`` puts the ``k``-th entry of class ``c`` at the rank of
    ``(k + 1/2) / counts[c]`` among all such keys: the Sainte-Laguë (Webster) sequence, whose
    every prefix is a proportional apportionment of its length among the classes.

    Examples
    --------
    >>> interleave_order([4, 2]).tolist()
    [0, 4, 1, 2, 5, 3]
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    keys = np.concatenate(
        [(np.arange(c, dtype=np.float64) + 0.5) / c for c in counts if c > 0]
        or [np.empty(0)]
    )
    # A stable sort keeps class order on ties, so the result is deterministic.
    return np.argsort(keys, kind="stable").astype(_index_dtype(total), copy=False)


@dataclass(frozen=True)
class Draw:
    """The rows of one draw, in batch order.

    Attributes
    ----------
    rows : ndarray of shape (n,)
        Row positions in the caller's arrays (the base row of a synthetic entry).
    partners : ndarray of shape (n,) or None
        For interpolation: the neighbour that a synthetic entry moves towards (equal to
        ``rows`` for real entries).
    lam : ndarray of shape (n,) or None
        For interpolation: the mixing weight, in (0, 1) for a synthetic entry and 0 for a
        real one (an entry drawn with weight exactly 0 is its base row, i.e. real).
    """

    rows: np.ndarray
    partners: np.ndarray | None = None
    lam: np.ndarray | None = None

    @property
    def synthetic(self) -> np.ndarray | None:
        """For interpolation: True where the entry is a synthetic row."""
        return None if self.lam is None else self.lam != 0

    def __len__(self) -> int:
        return len(self.rows)

    def slice(self, start: int, stop: int) -> Draw:
        def cut(a):
            return None if a is None else a[start:stop]

        return Draw(self.rows[start:stop], cut(self.partners), cut(self.lam))

    @staticmethod
    def concatenate(parts: list[Draw]) -> Draw:
        if len(parts) == 1:
            return parts[0]

        def cat(name):
            values = [getattr(p, name) for p in parts]
            return None if values[0] is None else np.concatenate(values)

        return Draw(cat("rows"), cat("partners"), cat("lam"))


class DrawPlanner:
    """Plans the draws of a balanced pipeline over rows grouped by class.

    Parameters
    ----------
    groups : list of ndarray
        ``groups[c]`` holds the positions of the rows of class ``c`` (every group non-empty).
    targets : list of int
        Rows of class ``c`` in each draw.
    method : {"under", "over", "interpolate"}
        ``"under"``: a walk of ``targets[c]`` rows (every class with ``targets[c] < n_c``).
        ``"over"``: every row ``targets[c] // n_c`` times plus a walk of the remainder.
        ``"interpolate"``: every row once plus ``targets[c] - n_c`` synthetic entries whose
        base rows are chosen like ``"over"``'s extra rows and whose partner is one of the
        base row's nearest neighbours (``neighbors[c]``, global positions, one row per
        member of the class).
    seed : int
    shuffle : bool
        Walk random permutations and shuffle each class's rows in each draw; False walks
        the rows in their original order (useful to inspect a plan).
    neighbors : list of ndarray or None
        For ``"interpolate"``: ``neighbors[c]`` of shape ``(n_c, k_c)``, or None for a class
        that gets no synthetic rows.
    """

    def __init__(
        self,
        groups: list[np.ndarray],
        targets: list[int],
        *,
        method: str,
        seed: int,
        shuffle: bool = True,
        neighbors: list[np.ndarray | None] | None = None,
    ):
        self.groups = groups
        self.targets = [int(t) for t in targets]
        self.method = method
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.neighbors = neighbors
        n_total = sum(len(g) for g in groups)
        self._dtype = _index_dtype(max(n_total, 1))
        self.order = interleave_order(self.targets)
        self._cycle_cache: dict[tuple[int, int], np.ndarray] = {}

    @property
    def rows_per_draw(self) -> int:
        return int(sum(self.targets))

    # -- walks --------------------------------------------------------------------------

    def _cycle(self, cls: int, cycle: int) -> np.ndarray:
        """The permutation of class ``cls``'s local row numbers used in ``cycle``."""
        key = (cls, cycle)
        perm = self._cycle_cache.get(key)
        if perm is None:
            n = len(self.groups[cls])
            if self.shuffle:
                rng = np.random.default_rng(
                    derive_seed(self.seed, "walk", self.method, cls, cycle)
                )
                perm = rng.permutation(n).astype(self._dtype, copy=False)
            else:
                perm = np.arange(n, dtype=self._dtype)
            # Keep the two most recent cycles per class: draws are asked for in order.
            for old in [
                k for k in self._cycle_cache if k[0] == cls and k[1] < cycle - 1
            ]:
                del self._cycle_cache[old]
            self._cycle_cache[key] = perm
        return perm

    def walk(self, cls: int, per_draw: int, draw: int) -> np.ndarray:
        """``per_draw`` distinct local row numbers of class ``cls`` for ``draw``.

        Draws ``k*m ... k*m + m - 1`` (``m = ceil(n / per_draw)``) together use every row.
        """
        n = len(self.groups[cls])
        if per_draw == 0:
            return np.empty(0, dtype=self._dtype)
        m = walk_cycle_length(n, per_draw)
        cycle, step = divmod(draw, m)
        perm = self._cycle(cls, cycle)
        part = perm[step * per_draw : (step + 1) * per_draw]
        short = per_draw - len(part)
        if short:
            # The last slice of a cycle: top it up from the start of the same permutation,
            # whose rows are not in this slice, so no row repeats inside the draw.
            part = np.concatenate([part, perm[:short]])
        return part

    # -- draws --------------------------------------------------------------------------

    def draw(self, index: int) -> Draw:
        """The plan of draw number ``index`` (0, 1, 2, ...)."""
        rng = np.random.default_rng(derive_seed(self.seed, "draw", self.method, index))
        rows, partners, lams = [], [], []
        for cls, (group, target) in enumerate(zip(self.groups, self.targets)):
            n = len(group)
            if self.method == "under":
                # A class kept whole walks a fresh permutation every draw (m = 1).
                rows.append(group[self.walk(cls, min(target, n), index)])
                continue
            if self.method == "over":
                copies, extra = divmod(target, n)
                local = np.concatenate(
                    [np.tile(np.arange(n, dtype=self._dtype), copies)]
                    + [self.walk(cls, extra, index)]
                )
                if self.shuffle:
                    local = rng.permutation(local)
                rows.append(group[local])
                continue
            # interpolate: the real rows, then synthetic entries.
            n_syn = target - n
            if n_syn == 0:  # a class kept as it is: its rows in a fresh order
                local = rng.permutation(n) if self.shuffle else np.arange(n)
                class_rows = group[local]
                rows.append(class_rows)
                partners.append(class_rows)
                lams.append(np.zeros(n, np.float32))
                continue
            copies, extra = divmod(n_syn, n)
            real = np.arange(n, dtype=self._dtype)
            base = np.concatenate(
                [np.tile(real, copies), self.walk(cls, extra, index)]
            ).astype(self._dtype, copy=False)
            table = self.neighbors[cls]
            column = rng.integers(0, table.shape[1], size=n_syn)
            partner = table[base, column].astype(self._dtype, copy=False)
            local_rows = np.concatenate([group[real], group[base]])
            local_partners = np.concatenate([group[real], partner])
            local_lam = np.concatenate(
                [np.zeros(n, np.float32), rng.random(n_syn, dtype=np.float32)]
            )
            if self.shuffle:
                shuffle = rng.permutation(target)
                local_rows = local_rows[shuffle]
                local_partners = local_partners[shuffle]
                local_lam = local_lam[shuffle]
            rows.append(local_rows)
            partners.append(local_partners)
            lams.append(local_lam)
        order = self.order
        if self.method != "interpolate":
            return Draw(np.concatenate(rows).astype(self._dtype, copy=False)[order])
        return Draw(
            np.concatenate(rows).astype(self._dtype, copy=False)[order],
            np.concatenate(partners).astype(self._dtype, copy=False)[order],
            np.concatenate(lams)[order],
        )
