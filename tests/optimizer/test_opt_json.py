"""The JSON codec of the storage's JSON columns (orjson): the values that go in come back,
as the standard library's codec gives them back."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import JSON, Column, Integer, MetaData, Table, create_engine, insert, select

from optimizer.storage._engine import engine_kwargs
from optimizer.storage._json import dumps, loads

#: JSON values as the store's columns hold them: parameters, configs, statistics.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_a_value_comes_back_as_the_standard_codec_gives_it_back(value: Any) -> None:
    assert loads(dumps(value)) == json.loads(json.dumps(value))
    assert json.loads(dumps(value)) == value  # standard JSON text


class _Count(int):
    """An int subclass, as some libraries hand them out."""


def test_number_subclasses_and_integer_keys_are_written_as_json_dumps_writes_them() -> None:
    value = {"a": np.float64(0.1), "b": _Count(7), 3: [np.float64(-2.5)]}
    assert dumps(value) == json.dumps(value, separators=(",", ":"))


def test_no_number_is_written_as_null_and_an_unknown_type_is_a_type_error() -> None:
    assert loads(dumps({"x": math.nan, "y": -math.inf})) == {"x": None, "y": None}
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"x": object()})


def test_a_storage_engine_writes_and_reads_its_json_columns_with_the_codec(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'codec.db'}"
    engine = create_engine(url, **engine_kwargs(url))
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("doc", JSON))
    table.create(engine)
    doc = {"params": {"z_entry": 2.5, "z_window": 20}, "tags": ["a", None, True]}
    with engine.begin() as conn:
        conn.execute(insert(table), [{"doc": doc}])
    with engine.connect() as conn:
        assert conn.execute(select(table.c.doc)).scalar_one() == doc
        raw = conn.exec_driver_sql("SELECT doc FROM t").scalar_one()
    engine.dispose()
    assert raw == dumps(doc)  # the compact text of the codec, not json.dumps's
