"""The ELAsTiCC2 Avro schemas (namespace ``elasticc.v0_9_1``) as ``.avsc`` files and a loader.

The files follow the field lists of ``LSSTDESC/elasticc: alert_schema/`` (names, order, types,
nullability, defaults): ``alert``, ``diaSource``, ``diaForcedSource``, ``diaObject``,
``diaNondetectionLimit`` and ``brokerClassification`` (whose record is named ``brokerClassfication``,
sic, as in the original). Alerts and broker messages are *schemaless* Avro: a reader needs the schema,
which :func:`load_schema` provides::

    import fastavro
    from elasticc_tutorial.schema import load_schema

    alert = fastavro.schemaless_reader(fh, load_schema("alert"))
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path

import fastavro.schema

__all__ = ["NAMESPACE", "SCHEMA_NAMES", "load_schema", "schema_path"]

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
        raise ValueError(f"unknown schema name {name!r}; expected one of {SCHEMA_NAMES}")
    return Path(str(resources.files(__name__).joinpath(f"{NAMESPACE}.{name}.avsc")))


@functools.cache
def _parsed(name: str) -> dict:
    return fastavro.schema.load_schema(str(schema_path(name)))


def load_schema(name: str = "alert") -> dict:
    """The parsed fastavro schema of ``elasticc.v0_9_1.<name>``, e.g. ``"alert"``.

    ``fastavro.schema.load_schema`` resolves the named types the file refers to (``alert`` uses
    ``diaSource``, ``diaForcedSource``, ``diaObject``) from the sibling files. Files are parsed once
    per process; each call returns a fresh copy (still marked as parsed, so passing it to
    ``schemaless_writer``/``schemaless_reader`` many times costs no re-parsing).
    """
    return copy.deepcopy(_parsed(name))
