from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tickdeck.core import schema
from tickdeck.core.errors import SchemaError

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schema.md"


def test_schema_has_14_raw_and_29_enriched_fields_each_documented():
    assert len(schema.RAW_FIELDS) == 14
    assert len(schema.ENRICHED_FIELDS) == 29
    assert len({f.name for f in schema.FIELDS}) == 43
    for f in schema.FIELDS:
        assert f.dtype and f.unit and len(f.meaning) > 5, f.name


def test_generated_docs_are_in_sync_with_the_table():
    assert DOCS.read_text() == schema.markdown(), "run `make docs` to regenerate docs/schema.md"


def _frame(n=3):
    idx = pd.date_range("2024-07-01 10:00", periods=n, freq="s", tz=schema.TZ, name="timestamp")
    data = {}
    for f in schema.FIELDS:
        if f.name == "timestamp":
            continue
        data[f.name] = np.full(n, "x", dtype=object) if f.dtype == "str" else np.ones(n, dtype=schema.numpy_dtype(f))
    return pd.DataFrame(data, index=idx)


def test_valid_frame_passes():
    schema.validate_frame(_frame())


def test_missing_column_is_named():
    with pytest.raises(SchemaError, match="'spread'.*missing"):
        schema.validate_frame(_frame().drop(columns=["spread"]))


def test_naive_index_is_rejected():
    df = _frame()
    df.index = df.index.tz_localize(None)
    with pytest.raises(SchemaError, match="tz-naive"):
        schema.validate_frame(df)


def test_unsorted_index_names_first_row():
    df = _frame(4).iloc[[0, 2, 1, 3]]
    with pytest.raises(SchemaError) as e:
        schema.validate_frame(df)
    assert e.value.row == 2


def test_nonpositive_price_names_row():
    df = _frame(4)
    df.iloc[2, df.columns.get_loc("last")] = 0.0
    with pytest.raises(SchemaError) as e:
        schema.validate_frame(df)
    assert e.value.column == "last" and e.value.row == 2


def test_wrong_dtype_is_rejected():
    df = _frame()
    df["tick_id"] = df["tick_id"].astype(float)
    with pytest.raises(SchemaError, match="tick_id"):
        schema.validate_frame(df)
