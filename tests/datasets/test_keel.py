"""Tests of the KEEL reader and the shipped KEEL datasets."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balanceflow.datasets import describe, description, load, names, read_keel
from balanceflow.exceptions import DataError, InvalidParameterError

# Copied from ../shared/datasets/keel/README.md (KEEL's published figures):
# name: (domain, rows, features, nominal features, minority count, imbalance ratio)
EXPECTED = {
    "wisconsin": ("medical, breast cytology", 683, 9, 0, 239, 1.86),
    "new-thyroid1": ("medical, thyroid", 215, 5, 0, 35, 5.14),
    "vowel0": ("speech, vowels", 988, 13, 0, 90, 9.98),
    "flare-F": ("solar flares", 1066, 11, 11, 43, 23.79),
    "poker-8-9_vs_6": ("poker hands", 1485, 10, 0, 25, 58.40),
    "kddcup-rootkit-imap_vs_back": ("network intrusion", 2225, 41, 15, 22, 100.14),
}


# --------------------------------------------------------------------------- shipped sets


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shipped_dataset_matches_published_figures(name):
    """Check that every shipped dataset has KEEL's rows, features, minority count and IR."""
    _, rows, n_features, n_nominal, minority, ratio = EXPECTED[name]
    X, y = load(name)

    assert X.shape == (rows, n_features)
    assert len(y) == rows
    assert sum(isinstance(d, pd.CategoricalDtype) for d in X.dtypes) == n_nominal
    assert all(
        isinstance(d, pd.CategoricalDtype) or d in (np.float64, np.int64)
        for d in X.dtypes
    )
    assert not X.isna().any().any()
    assert y.dtype == np.int64
    assert y.name == "Class"
    assert set(np.unique(y)) == {0, 1}
    assert int((y == 1).sum()) == minority
    assert int((y == 1).sum()) < int((y == 0).sum())  # 1 is the minority class
    assert round(int((y == 0).sum()) / minority, 2) == ratio


def test_names_are_ordered_by_imbalance_ratio():
    """Check that names() lists the six sets, smallest imbalance ratio first."""
    by_ratio = sorted(EXPECTED, key=lambda n: EXPECTED[n][-1])
    assert names() == by_ratio


def test_describe_table():
    """Check that describe() has one row per set with the published figures."""
    table = describe()
    assert list(table.columns) == [
        "name",
        "domain",
        "rows",
        "features",
        "nominal_features",
        "minority",
        "majority",
        "classes",
        "imbalance_ratio",
    ]
    assert table["name"].tolist() == names()
    for row in table.itertuples(index=False):
        domain, rows, n_features, n_nominal, minority, ratio = EXPECTED[row.name]
        assert (row.domain, row.rows, row.features, row.nominal_features) == (
            domain,
            rows,
            n_features,
            n_nominal,
        )
        assert (row.minority, row.majority, row.classes) == (
            minority,
            rows - minority,
            2,
        )
        assert row.imbalance_ratio == ratio
    assert table["imbalance_ratio"].is_monotonic_increasing


def test_shipped_files_are_the_original_text():
    """Check that each shipped .dat.gz reads back through read_keel as load() returns it."""
    data = resources.files("balanceflow.datasets").joinpath("data")
    for name in names():
        with resources.as_file(data.joinpath(f"{name}.dat.gz")) as path:
            text = gzip.decompress(Path(path).read_bytes()).decode("ascii")
            X_file, y_file = read_keel(path)
        assert text.startswith(f"@relation {name}")
        X, y = load(name)
        pd.testing.assert_frame_equal(X_file, X)
        pd.testing.assert_series_equal(y_file, y)


def test_unknown_name_lists_valid_names():
    """Check that an unknown name raises, lists the valid names and suggests a close one."""
    with pytest.raises(InvalidParameterError) as info:
        load("nope")
    message = str(info.value)
    assert "name='nope'" in message
    for name in EXPECTED:
        assert name in message
    with pytest.raises(InvalidParameterError, match="Did you mean 'vowel0'"):
        load("vowel")
    with pytest.raises(InvalidParameterError, match="Did you mean 'wisconsin'"):
        description("Wisconsin")
    with pytest.raises(InvalidParameterError, match="shipped datasets"):
        load(3)


def test_load_returns_copies():
    """Check that mutating what load() and describe() return leaves later calls intact."""
    X, y = load("new-thyroid1")
    first_value, first_label = X.iloc[0, 0], y.iloc[0]
    X.iloc[0, 0] = -12345
    X["extra"] = 1
    y.iloc[:] = 7
    X_again, y_again = load("new-thyroid1")
    assert X_again.iloc[0, 0] == first_value
    assert "extra" not in X_again.columns
    assert y_again.iloc[0] == first_label
    assert int(y_again.sum()) == 35

    table = describe()
    table.loc[0, "rows"] = 0
    assert describe().loc[0, "rows"] == 683


def test_description():
    """Check that description() returns KEEL's text where shipped, a summary otherwise."""
    text = description("flare-F")
    assert text.startswith("Solar Flare (Imbalanced: F vs rest) data set")
    assert "@outputs Class" in text
    fallback = description("wisconsin")
    assert "wisconsin" in fallback and "KEEL" in fallback


def test_import_needs_no_tensorflow_or_keras():
    """Check that the loaders import and run with TensorFlow and Keras made unimportable."""
    src = Path(__import__("balanceflow.datasets").datasets.__file__).parents[2]
    code = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "keras", "torch", "jax"}:
            raise ImportError("blocked: " + name)

sys.meta_path.insert(0, Block())
from balanceflow import datasets
X, y = datasets.load("vowel0")
assert X.shape == (988, 13)
datasets.digits_lt()
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --------------------------------------------------------------------------- read_keel

TOY = """\
@relation toy
% a comment line
@attribute width real [0.0, 10.0]
@attribute count integer[0,5]
@attribute score numeric
@attribute colour {red, green, blue}
@attribute size integer [1, 3]
@attribute Class {positive,negative}
@inputs width, count, score, colour, size
@outputs Class
@data
1.5, 2, 0.25, red, 1, positive
 2.0 ,0,-1e3,blue, ?, negative

?, 5, 3, <null>, 3, negative
"""


def _expected_toy() -> tuple[pd.DataFrame, pd.Series]:
    X = pd.DataFrame(
        {
            "width": np.array([1.5, 2.0, np.nan], dtype=np.float64),
            "count": np.array([2, 0, 5], dtype=np.int64),
            "score": np.array([0.25, -1000.0, 3.0], dtype=np.float64),
            "colour": pd.Categorical(
                ["red", "blue", None], categories=["red", "green", "blue"]
            ),
            "size": np.array([1.0, np.nan, 3.0], dtype=np.float64),
        }
    )
    y = pd.Series(np.array([1, 0, 0], dtype=np.int64), name="Class")
    return X, y


def _write(tmp_path: Path, text: str, filename: str = "bad.dat") -> Path:
    path = tmp_path / filename
    path.write_text(text)
    return path


def test_read_keel_types_and_missing_values(tmp_path):
    """Check real/integer/numeric/nominal columns, missing values and the 1/0 class."""
    X, y = read_keel(_write(tmp_path, TOY, "toy.dat"))
    X_expected, y_expected = _expected_toy()
    pd.testing.assert_frame_equal(X, X_expected)
    pd.testing.assert_series_equal(y, y_expected)
    assert list(X["colour"].cat.categories) == ["red", "green", "blue"]


def test_read_keel_gzip_equals_plain(tmp_path):
    """Check that a gzip file reads exactly like its plain text (also given as str)."""
    path = tmp_path / "toy.dat.gz"
    path.write_bytes(gzip.compress(TOY.encode()))
    X, y = read_keel(str(path))
    X_expected, y_expected = _expected_toy()
    pd.testing.assert_frame_equal(X, X_expected)
    pd.testing.assert_series_equal(y, y_expected)


def test_read_keel_generic_labels_and_outputs(tmp_path):
    """Check that non positive/negative classes stay strings and @outputs picks the class."""
    text = """\
@relation generic
@attribute label {cat, dog, 'bird'}
@attribute weight REAL
@attribute legs integer
@outputs label
@data
cat, 4.0, 4
'bird', 0.5, 2
dog, 30, 4
"""
    X, y = read_keel(_write(tmp_path, text, "generic.dat"))
    pd.testing.assert_frame_equal(
        X,
        pd.DataFrame(
            {"weight": [4.0, 0.5, 30.0], "legs": np.array([4, 2, 4], dtype=np.int64)}
        ),
    )
    assert y.name == "label"
    assert y.tolist() == ["cat", "bird", "dog"]

    no_outputs = text.replace("@outputs label\n", "")
    X, y = read_keel(_write(tmp_path, no_outputs, "last.dat"))
    assert list(X.columns) == ["label", "weight"]
    assert y.name == "legs"
    assert y.tolist() == [4, 2, 4]


def test_read_keel_integer_written_as_float(tmp_path):
    """Check that whole numbers written '3.0' in an integer attribute still give int64."""
    text = "@attribute a integer\n@attribute c {x, y}\n@data\n3.0, x\n-2, y\n"
    X, _ = read_keel(_write(tmp_path, text, "whole.dat"))
    assert X["a"].dtype == np.int64
    assert X["a"].tolist() == [3, -2]


def test_read_keel_empty_data_section(tmp_path):
    """Check that a file with a header and no rows gives empty, typed frames."""
    X, y = read_keel(
        _write(tmp_path, "@attribute a real\n@attribute c {x, y}\n@data\n")
    )
    assert X.shape == (0, 1)
    assert X["a"].dtype == np.float64
    assert len(y) == 0


HEADER = "@relation r\n@attribute a real\n@attribute b {u, v}\n@attribute Class {positive, negative}\n"


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        (
            "@data\n1.0, u, positive\n2.0, v\n",
            r"bad\.dat, line 7: expected 3 comma-separated values .*found 2",
        ),
        (
            "@data\n1.0, u, positive\n2.0, v, negative, 9\n",
            r"bad\.dat, line 7: expected 3 comma-separated values .*found 4",
        ),
        (
            "@data\n1.0, u, positive\n\n2.0, w, negative\n",
            (
                r"bad\.dat, line 8: value 'w' of nominal attribute 'b' is not among its "
                r"declared values \['u', 'v'\]"
            ),
        ),
        (
            "@data\n1.0, u, positive\n2.0, v, maybe\n",
            r"bad\.dat, line 7: value 'maybe' of nominal attribute 'Class'",
        ),
        (
            "1.0, u, positive\n",
            r"bad\.dat, line 5: found '1\.0, u, positive' before the @data",
        ),
        ("", r"bad\.dat: no @data line found"),
        (
            "@data\n1.0, u, positive\nabc, v, negative\n",
            r"bad\.dat, line 7: value 'abc' of real attribute 'a' is not a number",
        ),
        (
            "@data\n1.0, u, ?\n",
            r"bad\.dat, line 6: the class attribute 'Class' is missing",
        ),
        (
            "@attribute s string\n@data\n",
            r"bad\.dat, line 5: attribute 's' has the unsupported",
        ),
        (
            "@attribute a real\n@data\n",
            r"bad\.dat, line 5: attribute 'a' is declared twice",
        ),
        ("@outputs Label\n@data\n", r"bad\.dat, line 5: @outputs names undeclared"),
        (
            "@frobnicate\n@data\n",
            r"bad\.dat, line 5: unknown header keyword '@frobnicate'",
        ),
    ],
)
def test_read_keel_errors_name_file_and_line(tmp_path, body, pattern):
    """Check that each malformed file raises DataError naming the file and the line."""
    path = _write(tmp_path, HEADER + body)
    with pytest.raises(DataError, match=pattern):
        read_keel(path)


def test_read_keel_integer_must_be_whole(tmp_path):
    """Check that a fractional value in an integer attribute is reported with its line."""
    path = _write(
        tmp_path, "@attribute n integer [0, 9]\n@attribute c {x}\n@data\n1, x\n2.5, x\n"
    )
    with pytest.raises(
        DataError, match=r"line 5: value '2\.5' of integer attribute 'n'"
    ):
        read_keel(path)


def test_read_keel_data_before_attributes(tmp_path):
    """Check that @data with no attribute declared raises DataError."""
    with pytest.raises(
        DataError, match=re.escape("line 2: @data comes before any @attribute")
    ):
        read_keel(_write(tmp_path, "@relation r\n@data\n1\n"))


# A round trip: a frame written in KEEL format reads back equal.
_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=40, deadline=None)
@given(
    reals=st.lists(st.one_of(st.none(), _finite), min_size=1, max_size=20),
    data=st.data(),
)
def test_read_keel_round_trip(tmp_path_factory, reals, data):
    """Check that values written with repr() and '?' read back exactly (NaN for '?')."""
    n = len(reals)
    ints = data.draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n))
    nominal = data.draw(
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)
    )
    labels = data.draw(
        st.lists(st.sampled_from(["positive", "negative"]), min_size=n, max_size=n)
    )
    lines = [
        "@attribute r real",
        "@attribute i integer",
        "@attribute k {a, b, c}",
        "@attribute Class {positive, negative}",
        "@data",
    ]
    lines += [
        f"{'?' if r is None else repr(r)}, {i}, {k}, {c}"
        for r, i, k, c in zip(reals, ints, nominal, labels)
    ]
    path = tmp_path_factory.mktemp("rt") / "rt.dat"
    path.write_text("\n".join(lines) + "\n")
    X, y = read_keel(path)
    expected_r = np.array([np.nan if r is None else r for r in reals], dtype=np.float64)
    np.testing.assert_array_equal(X["r"].to_numpy(), expected_r)
    assert X["i"].dtype == np.int64
    assert X["i"].tolist() == ints
    assert X["k"].astype(str).tolist() == nominal
    assert y.tolist() == [int(c == "positive") for c in labels]
