"""The Python API's DataFrames: a DataFrame of rows in as a manifest, tables out.

pandas is imported only when a DataFrame is at hand, so `runner` on the command line starts
without it; a DataFrame is recognised by its class once pandas has been imported by someone.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.manifest import MemoryRows

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["frame_of", "frame_rows", "is_frame", "read_frame"]


def is_frame(value: object) -> bool:
    """Whether `value` is a pandas DataFrame (without importing pandas to find out)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def frame_rows(frame: pd.DataFrame) -> MemoryRows:
    """A DataFrame's rows as a CSV's: columns name task fields (`meta.<name>` for metadata), a
    missing value (NaN, None, NaT, NA) is not given, and rows are named by their index label."""
    import pandas as pd

    rows = [
        {str(column): _cell(value, pd) for column, value in record.items()}
        for record in frame.to_dict("records")
    ]
    locations = [f"DataFrame row {label}" for label in frame.index]
    return MemoryRows(rows, locations, "DataFrame")


def read_frame(path: Path) -> pd.DataFrame:
    """A Parquet table (the run folder's status.parquet) as a DataFrame."""
    import pandas as pd

    return pd.read_parquet(path)


def frame_of(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Records (one mapping per row) as a DataFrame."""
    import pandas as pd

    return pd.DataFrame.from_records(list(records))


def _cell(value: object, pd: Any) -> object:
    if hasattr(value, "tolist") and not isinstance(value, str):  # a numpy array or scalar
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return value
    return None if pd.isna(value) else value
