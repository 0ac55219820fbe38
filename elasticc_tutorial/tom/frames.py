"""TOM answers as polars frames: SQL rows with dtypes from the column types, long-query CSVs, and
pandas "tight" dicts (``brokerclassfortruetype``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import polars as pl

from elasticc_tutorial.errors import TomError

__all__ = ["frame_from_rows", "scan_result_csv", "tight_to_polars"]

_PG_TO_POLARS: dict[str, pl.DataType] = {
    "int2": pl.Int16(),
    "int4": pl.Int32(),
    "int8": pl.Int64(),
    "oid": pl.Int64(),
    "float4": pl.Float32(),
    "float8": pl.Float64(),
    "numeric": pl.Float64(),
    "bool": pl.Boolean(),
    "text": pl.String(),
    "varchar": pl.String(),
    "bpchar": pl.String(),
    "name": pl.String(),
    "uuid": pl.String(),
    "json": pl.String(),
    "jsonb": pl.String(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "timestamptz": pl.Datetime("us", "UTC"),
}


def tight_to_polars(tight: dict[str, Any], *, what: str = "response") -> pl.DataFrame:
    """A pandas ``to_dict(orient="tight")`` dict as a polars frame: index levels first, then the
    columns. Raises :class:`TomError` naming ``what`` when a key is missing."""
    try:
        index, data = tight["index"], tight["data"]
        names = [str(n) for n in tight["index_names"]]
        columns = [c if isinstance(c, str) else ".".join(map(str, c)) for c in tight["columns"]]
    except (KeyError, TypeError) as exc:
        raise TomError(f"{what}: not a pandas 'tight' dict (missing {exc})") from None
    keys = [tuple(i) if isinstance(i, list | tuple) else (i,) for i in index]
    rows = [(*k, *row) for k, row in zip(keys, data, strict=True)]
    return pl.DataFrame(rows, schema=[*names, *columns], orient="row")


def _polars_type(pgtype: str) -> pl.DataType | None:
    if pgtype.endswith("[]"):
        inner = _PG_TO_POLARS.get(pgtype[:-2])
        return pl.List(inner) if inner is not None else None
    return _PG_TO_POLARS.get(pgtype)


def frame_from_rows(
    rows: list[dict[str, Any]], columns: list[dict[str, str]] | None
) -> pl.DataFrame:
    """Rows (JSON dicts) as a polars DataFrame; dtypes from ``columns`` when the server sent them
    (the local TOM does), else inferred from all values (the DESC TOM sends no types)."""
    if columns is None:
        return pl.DataFrame(rows, infer_schema_length=None)
    data: dict[str, pl.Series] = {}
    for col in columns:
        name, dtype = col["name"], _polars_type(col["type"])
        values = [r.get(name) for r in rows]
        if dtype is None:
            data[name] = pl.Series(name, values, strict=False)
        elif isinstance(dtype, pl.Datetime | pl.Date):
            s = pl.Series(name, values, dtype=pl.String)
            data[name] = s.str.to_datetime(time_zone="UTC" if dtype.time_zone else None).cast(dtype) if isinstance(dtype, pl.Datetime) else s.str.to_date()  # fmt: skip
        elif dtype == pl.Float64 or dtype == pl.Float32:
            data[name] = pl.Series(
                name, [None if v is None else float(v) for v in values], dtype=dtype
            )
        else:
            data[name] = pl.Series(name, values, dtype=dtype, strict=False)
    return pl.DataFrame(data)


def scan_result_csv(path: Path, columns: list[dict[str, str]] | None) -> pl.LazyFrame:
    """A long query's CSV (pandas-style, with a leading unnamed index column) as a LazyFrame."""
    with path.open("rb") as fh:
        header = fh.readline().decode()
    names = next(iter(csv.reader(io.StringIO(header))), [])
    overrides: dict[str, pl.DataType] = {}
    post: list[pl.Expr] = []
    for col in columns or []:
        dtype = _polars_type(col["type"])
        name = col["name"]
        if dtype is None or isinstance(dtype, pl.List):
            overrides[name] = pl.String()
        elif dtype == pl.Boolean:
            overrides[name] = pl.String()
            post.append(pl.col(name).replace_strict({"True": True, "False": False}, default=None))
        elif isinstance(dtype, pl.Datetime | pl.Date):
            overrides[name] = pl.String()
            post.append(
                pl.col(name).str.to_datetime(time_zone=getattr(dtype, "time_zone", None))
                if isinstance(dtype, pl.Datetime)
                else pl.col(name).str.to_date()
            )
        else:
            overrides[name] = dtype
    lazy = pl.scan_csv(
        path,
        schema_overrides={k: v for k, v in overrides.items() if k in names},
        infer_schema_length=None if not columns else 100,
    )
    if names and names[0] == "":  # the pandas index column the real TOM writes
        lazy = lazy.drop(lazy.collect_schema().names()[0])
    if post:
        lazy = lazy.with_columns(post)
    return lazy
