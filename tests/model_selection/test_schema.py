"""The JSON schema replays the fitted scikit-learn preprocessing exactly."""

import json

import numpy as np
import pandas as pd
import pytest

from balanceflow.exceptions import DataError
from balanceflow.model_selection import clean_features, make_preprocessor
from balanceflow.model_selection._schema import TabularSchema


def _table(rng, n):
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(10, 1, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
            # 70 distinct values: more than the 50-column cap, so some become "infrequent"
            "city": rng.choice([f"c{i}" for i in range(70)], n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.1, "plan"] = None
    return frame


def test_schema_transform_equals_scikit_learn():
    """Check on fresh rows (with unseen and missing categories) that the JSON round trip
    of the schema transforms exactly as the fitted ColumnTransformer does."""
    rng = np.random.default_rng(0)
    train = _table(rng, 400)
    clean, numeric, categorical = clean_features(train)
    fitted = make_preprocessor(numeric, categorical).fit(clean)
    schema = TabularSchema.from_fitted(fitted, numeric, categorical)
    schema = TabularSchema.from_dict(json.loads(json.dumps(schema.to_dict())))
    new = _table(rng, 200)
    new.loc[:4, "plan"] = "enterprise"  # never seen in training
    expected = fitted.transform(clean_features(new)[0])
    with pytest.warns(UserWarning, match=r"'plan' of new.csv: 5 of 200 row\(s\)"):
        got = schema.transform(new, "new.csv")
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert any(x is not None for x in schema.infrequent)


def test_a_code_column_read_as_floats_at_predict_time_keeps_its_categories():
    """Check that a text column of codes, read back as floats (one blank cell makes
    pandas do that: 1 -> 1.0), is encoded as the same codes, with no warning; and that
    codes never seen in training are counted in a warning."""
    import warnings

    train = pd.DataFrame({"x": np.arange(30.0), "code": list("123") * 9 + ["x"] * 3})
    clean, numeric, categorical = clean_features(train)
    schema = TabularSchema.from_fitted(
        make_preprocessor(numeric, categorical).fit(clean), numeric, categorical
    )
    as_text = pd.DataFrame({"x": [0.0, 1.0, 2.0], "code": ["1", "3", None]})
    as_floats = pd.DataFrame({"x": [0.0, 1.0, 2.0], "code": [1.0, 3.0, np.nan]})
    assert as_floats["code"].dtype == np.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(
            schema.transform(as_floats), schema.transform(as_text)
        )
    # The one-hot columns (after "x"): "1", "2", "3", "x" in sorted order.
    np.testing.assert_array_equal(
        schema.transform(as_floats)[:2, 1:], [[1, 0, 0, 0], [0, 0, 1, 0]]
    )
    unseen = pd.DataFrame({"x": [0.0] * 4, "code": [7.0, 7.0, 2.5, 1.0]})
    with pytest.warns(UserWarning, match=r"3 of 4 row\(s\).*e\.g\. '7\.0', '2\.5'"):
        onehot = schema.transform(unseen)[:, 1:]
    np.testing.assert_array_equal(onehot.sum(axis=1), [0, 0, 0, 1])


def test_schema_refuses_missing_and_extra_columns():
    rng = np.random.default_rng(1)
    train = _table(rng, 100)
    clean, numeric, categorical = clean_features(train)
    schema = TabularSchema.from_fitted(
        make_preprocessor(numeric, categorical).fit(clean), numeric, categorical
    )
    with pytest.raises(DataError, match=r"missing column\(s\) \['city'\]"):
        schema.transform(train.drop(columns=["city"]), "new.csv")
    with pytest.raises(DataError, match=r"unexpected column\(s\) \['id'\]"):
        schema.transform(train.assign(id=1), "new.csv")
