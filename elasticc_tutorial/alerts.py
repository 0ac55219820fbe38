"""Stream ELAsTiCC2 Avro alerts and broker messages out of night tarballs, without extracting them.

``ELASTICC2_ALERTS/<mjd>.tar`` holds one member ``<alertId>.avro`` per alert, each a *schemaless*
``elasticc.v0_9_1.alert`` datum (no embedded schema: the reader supplies
:func:`elasticc_tutorial.schema.load_schema`). ``ELASTICC2_BROKER_MESSAGES/<mjd>.tar`` holds
``elasticc.v0_9_1.brokerClassification`` messages; a member may be one schemaless message or an
Avro container file of many (detected from the container's ``Obj\\x01`` magic), both are read.

Tars are read as streams (``tarfile`` mode ``r|*``), one member at a time, so a night never lands
on disk or wholly in memory. :func:`alert_tables` turns decoded alerts into polars tables. Each
reader refuses the other kind of tar with an :class:`AlertFormatError` that says which kind it
found (an Avro container's embedded schema names its record; a schemaless member must decode
exactly, to the last byte, with the expected schema).

Light curves come in the schema every reader of the package shares
(:mod:`elasticc_tutorial.lightcurves`)::

    read_lightcurves(source, model=None, *, snids=None, columns=None, flags=False, ...)

built from the photometry the alerts carry (each alert's diaSource, prvDiaSources and
prvDiaForcedSources, de-duplicated by id): only the points inside the alerts' windows, fluxes
converted back from nJy to FLUXCAL (zero point 27.5; float32 rounding of the nJy values), and
PHOTFLAG = 4096 (DETECT) for the diaSources, 0 for the other forced points: alerts do not carry
SNANA's TRIGGER and SATURATE bits. Alert tars are not split by model, so ``model`` must be None.

``source`` is a directory of ``<mjd>.tar``, one tar, a list of tars, a ``paths.Location``, or
``paths.locate()``'s locations (its ``.alerts``; for broker messages, the
``ELASTICC2_BROKER_MESSAGES`` directory beside it).

Errors: :class:`AlertFileNotFoundError` (a FileNotFoundError) for a missing tar or directory;
:class:`AlertFormatError` (a ValueError) for a truncated/corrupt tar or Avro member, naming the tar
and the member.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import fastavro
import numpy as np
import polars as pl

from elasticc_tutorial.errors import AlertsError, AlertsFileNotFoundError
from elasticc_tutorial.lightcurves import (
    COLUMNS,
    Columns,
    columns_to_read,
    finish,
    snid_array,
    wanted_columns,
)
from elasticc_tutorial.paths import DataLocations
from elasticc_tutorial.photometry import FLUXCAL_TO_NJY, PHOTFLAG_DETECT
from elasticc_tutorial.schema import load_schema, read_record

__all__ = [
    "AlertFileNotFoundError",
    "AlertFormatError",
    "AlertTables",
    "AlertsError",
    "alert_tables",
    "broker_table",
    "iter_alerts",
    "iter_broker_messages",
    "iter_members",
    "night_tars",
    "read_alerts",
    "read_broker_messages",
    "read_lightcurves",
]

_NIGHT_RE = re.compile(r"^(\d+)\.tar(\.gz|\.bz2|\.xz)?$")
_CONTAINER_MAGIC = b"Obj\x01"
_DECODE_ERRORS = (EOFError, ValueError, IndexError, KeyError, TypeError, UnicodeDecodeError)


AlertFileNotFoundError = AlertsFileNotFoundError


class AlertFormatError(AlertsError):
    """A tar or Avro member is truncated or does not decode with the expected schema."""


Source = str | os.PathLike[str] | DataLocations | Sequence[str | os.PathLike[str]]
BROKER_DIR = "ELASTICC2_BROKER_MESSAGES"


def _paths(source: Source, kind: str) -> Path | list[Path]:
    """One path, or the list of tar paths, of ``source`` for ``kind`` ("alert" or broker)."""
    if isinstance(source, DataLocations):
        if kind == "alert":
            return Path(source.alerts)
        # DataLocations has no entry for broker messages; they sit beside the alert tars.
        broker = Path(source.alerts).parent / BROKER_DIR
        if not broker.is_dir():
            raise AlertFileNotFoundError(
                f"broker-message tars not found: {broker} (expected beside the alert tars)"
            )
        return broker
    if isinstance(source, str | os.PathLike):
        return Path(source)
    return [Path(p) for p in source]


def night_tars(
    source: Source, first_night: int | None = None, last_night: int | None = None
) -> list[Path]:
    """Tarballs to read, in night order: ``source`` is a directory of ``<mjd>.tar`` files, one tar,
    or a list of them (or a Location / DataLocations: its alert tars); ``first_night``/``last_night``
    (inclusive, integer MJD) filter by name."""
    return _night_tars(_paths(source, "alert"), first_night, last_night)


def _night_tars(source: Path | list[Path], first_night: int | None, last_night: int | None):
    if isinstance(source, Path):
        if source.is_dir():
            paths = [p for p in source.iterdir() if _NIGHT_RE.match(p.name)]
        elif source.exists():
            paths = [source]
        else:
            raise AlertFileNotFoundError(f"alert tarball or directory not found: {source}")
    else:
        paths = source
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


_OTHER = {"alert": "brokerClassification", "brokerClassification": "alert"}
_READERS = {"alert": "iter_alerts/read_alerts", "brokerClassification": "iter_broker_messages"}


def _schemaless(data: bytes, schema: dict) -> dict | None:
    """The one record ``data`` holds with ``schema``, or None if it does not decode exactly."""
    fo = io.BytesIO(data)
    try:
        record = read_record(fo, schema)
    except _DECODE_ERRORS:
        return None
    return record if fo.tell() == len(data) else None


def _wrong_kind(where: str, expected: str, found: str) -> AlertFormatError:
    return AlertFormatError(
        f"{where}: holds elasticc.v0_9_1.{found} records, not {expected}: this is "
        f"{'an alert' if found == 'alert' else 'a broker-message'} tar; read it with "
        f"alerts.{_READERS[found]}"
    )


def _decode(data: bytes, kind: str, where: str) -> Iterator[dict]:
    schema = load_schema(kind)
    if data[:4] == _CONTAINER_MAGIC:
        try:
            reader = fastavro.reader(io.BytesIO(data))
            written = reader.writer_schema
            found = str(written.get("name", "") if isinstance(written, dict) else written)
            found = found.rsplit(".", 1)[-1]
            if found != schema["name"].rsplit(".", 1)[-1]:
                other = load_schema(_OTHER[kind])["name"].rsplit(".", 1)[-1]
                if found == other:
                    raise _wrong_kind(where, kind, _OTHER[kind])
                raise AlertFormatError(
                    f"{where}: Avro container of {found!r} records, expected {schema['name']}"
                )
            yield from cast("Iterator[dict]", reader)  # records of a record schema
        except _DECODE_ERRORS as exc:
            raise AlertFormatError(f"{where}: corrupt Avro container ({exc!r})") from None
        return
    record = _schemaless(data, schema)
    if record is None:
        if _schemaless(data, load_schema(_OTHER[kind])) is not None:
            raise _wrong_kind(where, kind, _OTHER[kind])
        raise AlertFormatError(
            f"{where}: truncated, corrupt or not a schemaless {schema.get('name')} "
            "(it does not decode exactly with that schema)"
        )
    yield record


def _iter(source: Source, kind: str, first: int | None, last: int | None) -> Iterator[dict]:
    for tar_path in _night_tars(_paths(source, kind), first, last):
        for name, data in iter_members(tar_path):
            if not name.endswith(".avro"):
                continue
            where = f"{tar_path}: member {name}"
            for record in _decode(data, kind, where):
                stem = Path(name).stem
                if kind == "alert" and stem.isdigit() and int(stem) != record["alertId"]:
                    raise AlertFormatError(
                        f"{where}: the name says alertId {stem} but the record holds alertId "
                        f"{record['alertId']} (wrong schema or a renamed member)"
                    )
                yield record


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


def _record_schema(record_name: str) -> dict[str, pl.DataType | type[pl.DataType]]:
    """Polars schema of a flat Avro record (nullable unions -> the non-null type)."""
    schema = load_schema(record_name)
    out: dict[str, pl.DataType | type[pl.DataType]] = {}
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
    rows: list[dict] = []
    sources: list[dict] = []
    forced: list[dict] = []
    objects: list[dict] = []
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
    alert_schema: dict[str, pl.DataType | type[pl.DataType]] = {
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


def read_lightcurves(
    source: Source,
    model: str | None = None,
    *,
    snids: Iterable[int] | None = None,
    columns: Columns = None,
    flags: bool = False,
    first_night: int | None = None,
    last_night: int | None = None,
) -> pl.DataFrame:
    """The light curves the alerts of the selected nights carry, in the common schema of
    :mod:`elasticc_tutorial.lightcurves` (see the module docstring for what alerts can and cannot
    give back): one row per point, objects by SNID (= diaObjectId), points in time order."""
    if model is not None:
        raise AlertsError(
            f"alert tars are not split by model (got model={model!r}); select objects with snids="
        )
    wanted = wanted_columns(columns, COLUMNS)
    unknown = [c for c in wanted if c not in COLUMNS]
    if unknown:
        raise AlertsError(f"alerts carry no per-point column(s) {unknown}; they have {COLUMNS}")
    read = columns_to_read(wanted, flags)
    keep = snid_array(snids)
    tables = alert_tables(
        a
        for a in iter_alerts(source, first_night, last_night)
        if keep is None or np.isin(a["diaSource"]["diaObjectId"], keep)
    )
    point = ["id", "SNID", "MJD", "BAND", "psFlux", "psFluxErr"]
    names = {"diaObjectId": "SNID", "midPointTai": "MJD", "filterName": "BAND"}
    detected = tables.sources.rename({"diaSourceId": "id", **names}).select(point)
    forced = tables.forced_sources.rename({"diaForcedSourceId": "id", **names}).select(point)
    # A detection is also a forced point with the same id; keep one copy of each point.
    points = (
        pl.concat([forced, detected])
        .unique("id", keep="first", maintain_order=True)
        .with_columns(
            pl.col("id")
            .is_in(detected["id"].implode())
            .cast(pl.Int32)
            .mul(PHOTFLAG_DETECT)
            .alias("PHOTFLAG"),
            (pl.col("psFlux") / FLUXCAL_TO_NJY).alias("FLUXCAL"),
            (pl.col("psFluxErr") / FLUXCAL_TO_NJY).alias("FLUXCALERR"),
        )
        .sort(["SNID", "MJD"], maintain_order=True)
    )
    if keep is not None:
        missing = np.setdiff1d(keep, points["SNID"].to_numpy())
        if len(missing):
            raise AlertsError(
                f"no alert in the selected nights of {source} for SNID "
                + ", ".join(map(str, missing[:10]))
            )
    return finish(points.select("SNID", *read), flags)
