"""The ELAsTiCC2 Avro schemas (namespace ``elasticc.v0_9_1``) as ``.avsc`` files and a loader.

The files follow the field lists of ``LSSTDESC/elasticc: alert_schema/`` (names, order, types,
nullability, defaults): ``alert``, ``diaSource``, ``diaForcedSource``, ``diaObject``,
``diaNondetectionLimit`` and ``brokerClassification`` (whose record is named ``brokerClassfication``,
sic, as in the original). Alerts and broker messages are *schemaless* Avro: a reader needs the schema,
which :func:`load_schema` provides::

    import fastavro
    from elasticc_tutorial.schema import load_schema

    alert = fastavro.schemaless_reader(fh, load_schema("alert"))

:func:`fields` lists a schema's fields as a polars frame (name, type, nullable, doc, and the
fields of a nested record), e.g. ``fields("alert")`` or, one row per leaf, ``fields("alert",
nested=True)``.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path
from typing import IO

import fastavro
import fastavro.schema
import polars as pl

from elasticc_tutorial.errors import AlertsError

__all__ = [
    "NAMESPACE",
    "SCHEMA_NAMES",
    "fields",
    "load_schema",
    "read_record",
    "schema_path",
    "type_name",
]

#: The Avro namespace of every schema in this package.
NAMESPACE = "elasticc.v0_9_1"

#: The schema names available to :func:`load_schema` (the file is ``<NAMESPACE>.<name>.avsc``).
SCHEMA_NAMES: tuple[str, ...] = (
    "alert",
    "diaSource",
    "diaForcedSource",
    "diaObject",
    "diaNondetectionLimit",
    "brokerClassification",
)


def schema_path(name: str = "alert") -> Path:
    """Path of the ``.avsc`` file of schema ``name`` (one of :data:`SCHEMA_NAMES`)."""
    if name not in SCHEMA_NAMES:
        raise AlertsError(f"unknown schema name {name!r}; expected one of {SCHEMA_NAMES}")
    return Path(str(resources.files(__name__).joinpath(f"{NAMESPACE}.{name}.avsc")))


@functools.cache
def _parsed(name: str) -> dict:
    schema = fastavro.schema.load_schema(str(schema_path(name)))
    if not isinstance(schema, dict):  # every schema we ship is one named record
        raise AlertsError(f"{schema_path(name)}: not an Avro record schema")
    return schema


def load_schema(name: str = "alert") -> dict:
    """The parsed fastavro schema of ``elasticc.v0_9_1.<name>``, e.g. ``"alert"``.

    ``fastavro.schema.load_schema`` resolves the named types the file refers to (``alert`` uses
    ``diaSource``, ``diaForcedSource``, ``diaObject``) from the sibling files. Files are parsed once
    per process; each call returns a fresh copy (still marked as parsed, so passing it to
    ``schemaless_writer``/``schemaless_reader`` many times costs no re-parsing).
    """
    return copy.deepcopy(_parsed(name))


def read_record(fo: IO[bytes], schema: dict) -> dict:
    """One schemaless record of the record ``schema`` (from :func:`load_schema`) read from ``fo``;
    fastavro's errors (EOFError, ValueError, ...) pass through."""
    record = fastavro.schemaless_reader(fo, schema, None)
    if not isinstance(record, dict):  # fastavro types the result as any Avro value
        raise AlertsError(f"schema {schema.get('name')!r} is not a record schema")
    return record


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def type_name(avro_type: object) -> tuple[str, bool]:
    """A short name for an Avro type and whether it is nullable: ``("array<diaSource>", True)``
    for ``["null", {"type": "array", "items": "elasticc.v0_9_1.diaSource"}]``."""
    if isinstance(avro_type, list):
        inner = [type_name(t)[0] for t in avro_type if t != "null"]
        return "|".join(inner), "null" in avro_type
    if isinstance(avro_type, dict):
        kind = avro_type["type"]
        if kind == "array":
            return f"array<{type_name(avro_type['items'])[0]}>", False
        if kind == "map":
            return f"map<{type_name(avro_type['values'])[0]}>", False
        if kind in ("record", "enum", "fixed"):
            return _short(avro_type["name"]), False
        if "logicalType" in avro_type:
            return f"{kind} ({avro_type['logicalType']})", False
        return str(kind), False
    return _short(str(avro_type)), False


def _record(avro_type: object) -> dict | None:
    """The record schema inside a type (through unions and arrays), or None."""
    if isinstance(avro_type, list):
        return next((r for r in map(_record, avro_type) if r is not None), None)
    if isinstance(avro_type, dict):
        if avro_type["type"] == "record":
            return avro_type
        return _record(avro_type.get("items") or avro_type.get("values"))
    if isinstance(avro_type, str) and _short(avro_type) in SCHEMA_NAMES:
        return load_schema(_short(avro_type))  # a reference to a record defined elsewhere
    return None


def fields(name: str = "alert", *, nested: bool = False) -> pl.DataFrame:
    """The fields of schema ``name`` as a frame: ``field``, ``type`` (short form, see
    :func:`type_name`), ``nullable``, ``doc`` and ``fields`` (the field names of a nested record,
    empty otherwise). ``nested=True`` lists every field of the nested records too, as dotted
    paths (``prvDiaSources[].psFlux``), instead of the ``fields`` column."""
    rows: list[dict] = []

    def walk(record: dict, prefix: str) -> None:
        for f in record["fields"]:
            kind, nullable = type_name(f["type"])
            sub = _record(f["type"])
            path = f"{prefix}{f['name']}"
            rows.append(
                {
                    "field": path,
                    "type": kind,
                    "nullable": nullable,
                    "doc": f.get("doc"),
                    "fields": [g["name"] for g in sub["fields"]] if sub else [],
                }
            )
            if nested and sub is not None:
                walk(sub, path + ("[]." if kind.startswith("array<") else "."))

    walk(load_schema(name), "")
    frame = pl.DataFrame(
        rows,
        schema={
            "field": pl.String,
            "type": pl.String,
            "nullable": pl.Boolean,
            "doc": pl.String,
            "fields": pl.List(pl.String),
        },
    )
    return frame.drop("fields") if nested else frame
