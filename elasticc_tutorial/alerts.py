"""Stream ELAsTiCC2 Avro alerts and broker messages out of night tarballs, without extracting them.

``ELASTICC2_ALERTS/<mjd>.tar`` holds one member ``<alertId>.avro`` per alert, each a *schemaless*
``elasticc.v0_9_1.alert`` datum (no embedded schema: the reader supplies
:func:`elasticc_tutorial.schema.load_schema`). ``ELASTICC2_BROKER_MESSAGES/<mjd>.tar`` holds
``elasticc.v0_9_1.brokerClassification`` messages; a member may be one schemaless message or an
Avro container file of many (detected from the container's ``Obj\\x01`` magic), both are read.

Tars are read as streams (``tarfile`` mode ``r|*``), one member at a time, so a night never lands
on disk or wholly in memory. :func:`alert_tables` turns decoded alerts into polars tables.

Errors: :class:`AlertFileNotFoundError` (a FileNotFoundError) for a missing tar or directory;
:class:`AlertFormatError` (a ValueError) for a truncated/corrupt tar or Avro member, naming the tar
and the member.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import polars as pl

from elasticc_tutorial.errors import AlertsError, AlertsFileNotFoundError
from elasticc_tutorial.schema import load_schema

__all__ = [
    "AlertFileNotFoundError",
    "AlertFormatError",
    "AlertTables",
    "alert_tables",
    "broker_table",
    "iter_alerts",
    "iter_broker_messages",
    "iter_members",
    "night_tars",
    "read_alerts",
    "read_broker_messages",
]

_NIGHT_RE = re.compile(r"^(\d+)\.tar(\.gz|\.bz2|\.xz)?$")
_CONTAINER_MAGIC = b"Obj\x01"
_DECODE_ERRORS = (EOFError, ValueError, IndexError, KeyError, TypeError, UnicodeDecodeError)


AlertFileNotFoundError = AlertsFileNotFoundError


class AlertFormatError(AlertsError):
    """A tar or Avro member is truncated or does not decode with the expected schema."""


Source = str | Path | Sequence[str | Path]


def night_tars(
    source: Source, first_night: int | None = None, last_night: int | None = None
) -> list[Path]:
    """Tarballs to read, in night order: ``source`` is a directory of ``<mjd>.tar`` files, one tar,
    or a list of them; ``first_night``/``last_night`` (inclusive, integer MJD) filter by name."""
    if isinstance(source, str | Path):
        source = Path(source)
        if source.is_dir():
            paths = [p for p in source.iterdir() if _NIGHT_RE.match(p.name)]
        elif source.exists():
            paths = [source]
        else:
            raise AlertFileNotFoundError(f"alert tarball or directory not found: {source}")
    else:
        paths = [Path(p) for p in source]
        for p in paths:
            if not p.is_file():
                raise AlertFileNotFoundError(f"alert tarball not found: {p}")

    def night(p: Path) -> int | None:
        m = _NIGHT_RE.match(p.name)
        return int(m.group(1)) if m else None

    selected = []
    for p in paths:
        n = night(p)
        if (first_night is not None or last_night is not None) and n is None:
            raise AlertFormatError(f"{p}: night filter needs tar names <mjd>.tar")
        if n is not None and (
            (first_night is not None and n < first_night)
            or (last_night is not None and n > last_night)
        ):
            continue
        selected.append(p)
    return sorted(selected, key=lambda p: (night(p) or 0, p.name))


def iter_members(tar_path: str | Path) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of every regular file of a tar, streamed in archive order."""
    tar_path = Path(tar_path)
    try:
        with tarfile.open(tar_path, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                fh = tar.extractfile(member)
                assert fh is not None
                data = fh.read()
                if len(data) != member.size:
                    raise AlertFormatError(
                        f"{tar_path}: member {member.name} truncated "
                        f"({len(data)} of {member.size} bytes)"
                    )
                yield member.name, data
    except FileNotFoundError:
        raise AlertFileNotFoundError(f"alert tarball not found: {tar_path}") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise AlertFormatError(f"{tar_path}: truncated or corrupt tar ({exc})") from None


def _decode(data: bytes, schema: dict, where: str) -> Iterator[dict]:
    if data[:4] == _CONTAINER_MAGIC:
        try:
            yield from fastavro.reader(io.BytesIO(data))
        except _DECODE_ERRORS as exc:
            raise AlertFormatError(f"{where}: corrupt Avro container ({exc!r})") from None
        return
    fo = io.BytesIO(data)
    try:
        record = fastavro.schemaless_reader(fo, schema, None)
    except _DECODE_ERRORS as exc:
        raise AlertFormatError(
            f"{where}: truncated or not a schemaless {schema.get('name')} ({exc!r})"
        ) from None
    if fo.tell() != len(data):
        raise AlertFormatError(
            f"{where}: {len(data) - fo.tell()} bytes left after one {schema.get('name')} record "
            "(wrong schema or corrupt member)"
        )
    yield record


def _iter(source: Source, schema_name: str, first: int | None, last: int | None) -> Iterator[dict]:
    schema = load_schema(schema_name)
    for tar_path in night_tars(source, first, last):
        for name, data in iter_members(tar_path):
            if not name.endswith(".avro"):
                continue
            yield from _decode(data, schema, f"{tar_path}: member {name}")


def iter_alerts(
    source: Source, first_night: int | None = None, last_night: int | None = None
) -> Iterator[dict]:
    """Decoded alerts (dicts, fastavro's form) of the tarballs of ``source``, in tar order."""
    return _iter(source, "alert", first_night, last_night)


def iter_broker_messages(
    source: Source, first_night: int | None = None, last_night: int | None = None
) -> Iterator[dict]:
    """Decoded brokerClassification messages of the tarballs of ``source``."""
    return _iter(source, "brokerClassification", first_night, last_night)


# --------------------------------------------------------------------------------------------------
# Tables

_AVRO_POLARS = {
    "long": pl.Int64,
    "int": pl.Int32,
    "double": pl.Float64,
    "float": pl.Float32,
    "string": pl.String,
    "boolean": pl.Boolean,
}


def _record_schema(record_name: str) -> dict[str, pl.DataType]:
    """Polars schema of a flat Avro record (nullable unions -> the non-null type)."""
    schema = load_schema(record_name)
    out: dict[str, pl.DataType] = {}
    for field in schema["fields"]:
        t = field["type"]
        if isinstance(t, list):
            t = next(x for x in t if x != "null")
        if isinstance(t, dict) and t.get("logicalType") == "timestamp-millis":
            out[field["name"]] = pl.Datetime("ms", "UTC")
        elif isinstance(t, str) and t in _AVRO_POLARS:
            out[field["name"]] = _AVRO_POLARS[t]
    return out


@dataclass
class AlertTables:
    """A batch of alerts as tables.

    * ``alerts``: one row per alert: alertId, the triggering diaSource's fields, and the counts
      ``nPrvDiaSources``/``nPrvDiaForcedSources``;
    * ``sources``: unique diaSources (triggering and previous), by diaObjectId and midPointTai;
    * ``forced_sources``: unique diaForcedSources, by diaObjectId and midPointTai;
    * ``objects``: unique diaObjects (the latest alert's copy), by diaObjectId.
    """

    alerts: pl.DataFrame
    sources: pl.DataFrame
    forced_sources: pl.DataFrame
    objects: pl.DataFrame


def alert_tables(alerts: Iterable[dict]) -> AlertTables:
    """Turn decoded alerts into :class:`AlertTables` (dtypes from the Avro schema)."""
    src_schema = _record_schema("diaSource")
    fs_schema = _record_schema("diaForcedSource")
    obj_schema = _record_schema("diaObject")
    rows, sources, forced, objects = [], [], [], []
    for a in alerts:
        src = a["diaSource"]
        prv = a.get("prvDiaSources") or []
        prv_fs = a.get("prvDiaForcedSources") or []
        rows.append(
            {
                "alertId": a["alertId"],
                **src,
                "nPrvDiaSources": len(prv),
                "nPrvDiaForcedSources": len(prv_fs),
            }
        )
        sources.append(src)
        sources.extend(prv)
        forced.extend(prv_fs)
        if a.get("diaObject") is not None:
            objects.append(a["diaObject"])
    alert_schema = {
        "alertId": pl.Int64,
        **src_schema,
        "nPrvDiaSources": pl.Int32,
        "nPrvDiaForcedSources": pl.Int32,
    }
    order = ["diaObjectId", "midPointTai"]
    return AlertTables(
        alerts=pl.from_dicts(rows, schema=alert_schema),
        sources=pl.from_dicts(sources, schema=src_schema)
        .unique("diaSourceId", keep="first", maintain_order=True)
        .sort(order, maintain_order=True),
        forced_sources=pl.from_dicts(forced, schema=fs_schema)
        .unique("diaForcedSourceId", keep="first", maintain_order=True)
        .sort(order, maintain_order=True),
        objects=pl.from_dicts(objects, schema=obj_schema)
        .unique("diaObjectId", keep="last", maintain_order=True)
        .sort("diaObjectId"),
    )


def read_alerts(
    source: Source,
    first_night: int | None = None,
    last_night: int | None = None,
    *,
    limit: int | None = None,
) -> AlertTables:
    """Read (at most ``limit``) alerts of the selected nights into :class:`AlertTables`."""
    it: Iterable[dict] = iter_alerts(source, first_night, last_night)
    if limit is not None:
        it = (a for _, a in zip(range(limit), it, strict=False))
    return alert_tables(it)


def broker_table(messages: Iterable[dict], *, explode: bool = True) -> pl.DataFrame:
    """Broker messages as a table: one row per (message, classification) with ``classId`` and
    ``probability`` (``explode=False``: one row per message with list columns)."""
    schema = _record_schema("brokerClassification")
    rows: list[dict[str, Any]] = []
    for m in messages:
        row = {k: m[k] for k in schema}
        classes = m["classifications"]
        row["classId"] = [c["classId"] for c in classes]
        row["probability"] = [c["probability"] for c in classes]
        rows.append(row)
    full = {**schema, "classId": pl.List(pl.Int32), "probability": pl.List(pl.Float32)}
    frame = pl.from_dicts(rows, schema=full)
    return frame.explode(["classId", "probability"]) if explode else frame


def read_broker_messages(
    source: Source,
    first_night: int | None = None,
    last_night: int | None = None,
    *,
    explode: bool = True,
) -> pl.DataFrame:
    """Read the broker messages of the selected nights; see :func:`broker_table`."""
    return broker_table(iter_broker_messages(source, first_night, last_night), explode=explode)
