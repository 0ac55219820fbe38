"""The sample TOM database: the ``elasticc2_*`` tables of the DESC TOM, their DDL and a COPY loader.

Table and column names, PostgreSQL types, nullability, primary keys and index names follow the TOM
(``LSSTDESC/tom_desc: tom_desc/elasticc2/models.py`` and the sprint-week ``elasticc2_schema.txt``):

* the PPDB (everything that could be alerted): ``elasticc2_ppdbdiaobject``, ``elasticc2_ppdbdiasource``,
  ``elasticc2_ppdbdiaforcedsource``, ``elasticc2_ppdbalert``, and the truth ``elasticc2_diaobjecttruth``;
* what the TOM learned from broker replies ("known to the TOM"), with the same columns:
  ``elasticc2_diaobject``, ``elasticc2_diasource``, ``elasticc2_diaforcedsource``;
* the broker replies: ``elasticc2_brokerclassifier`` and ``elasticc2_brokermessage`` (parallel
  ``classid smallint[]`` / ``probability real[]`` arrays);
* the taxonomy maps ``elasticc2_gentypeofclassid`` and ``elasticc2_classidofgentype``;
* the training set (``elasticc2_training*``), the summaries the TOM derives (``diaobjectinfo``,
  ``diaobjectclassification``, ``brokersourceids``, ``importppdbrunning``) and the tables its routes
  fill (the spectrum tables, ``diaobjectoftarget``), all 25 of ``tom-fidelity.md`` §5; the column
  lists live in :mod:`elasticc_tutorial.sample.dbschema`.

The SNANA -> table mapping (:func:`ppdb_tables`) is the one of the TOM's ``load_snana_fits``: every
PHOT point is a forced source with id ``SNID * 100000 + point index``; detections
(``PHOTFLAG & 4096``) are also sources with the same id and one alert each (``alert_id =
diasource_id``); fluxes are rescaled from FLUXCAL (zero point 27.5) to nJy (31.4).

The q3c sky indexes of the real TOM (``idx_elasticc2_*_q3c``) are created only when the server has
the q3c extension available (the embedded pgserver does not).

Public functions: :func:`create_tables`, :func:`create_indexes`, :func:`create_schema`,
:func:`ppdb_tables`, :func:`training_tables`, :func:`taxonomy_tables`, :func:`copy_frame`, :func:`load`,
:func:`table_names`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence

import polars as pl
import psycopg
from psycopg import sql

from elasticc_tutorial import taxonomy
from elasticc_tutorial.photometry import BANDS, FLUXCAL_TO_NJY, PHOTFLAG_DETECT
from elasticc_tutorial.sample.dbderived import DERIVED_SQL
from elasticc_tutorial.sample.dbschema import (
    COLUMNS,
    FOREIGN_KEYS,
    INDEXES,
    LIKE_INDEXES,
    PKEYS,
    Q3C,
    TRUTH_COLS,
    UNIQUE,
    django_index_name,
    host_columns,
)

__all__ = [
    "COLUMNS",
    "DDF_MIN_POINTS",
    "DEFAULT_SIMVERSION",
    "SOURCE_ID_FACTOR",
    "copy_frame",
    "create_indexes",
    "create_schema",
    "create_tables",
    "load",
    "ppdb_tables",
    "table_names",
    "taxonomy_tables",
    "training_tables",
]

log = logging.getLogger(__name__)

#: ``diaforcedsource_id = SNID * SOURCE_ID_FACTOR + point index`` (``max_sources_per_object``).
SOURCE_ID_FACTOR = 100_000
#: The TOM loader's default ``simversion``.
DEFAULT_SIMVERSION = "2023-04-01"
#: Objects with more than this many PHOT points are flagged ``isddf`` (as the TOM loader does).
DDF_MIN_POINTS = 1000

_BANDS = [b.lower() for b in BANDS]  # the TOM database spells the Y band "y"
_host_columns = host_columns
_TRUTH_COLS = TRUTH_COLS
_R, _D, _B, _I = "real", "double precision", "bigint", "integer"


def table_names() -> list[str]:
    """The names of every table this module creates, in creation order."""
    return list(COLUMNS)


# --------------------------------------------------------------------------------------------
# DDL
# --------------------------------------------------------------------------------------------


def _create_table_sql(table: str) -> sql.Composed:
    parts = []
    for name, typ, notnull, extra in COLUMNS[table]:
        clause = " ".join(x for x in (typ, "NOT NULL" if notnull else "", extra) if x)
        parts.append(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(clause)))
    parts.append(
        sql.SQL("CONSTRAINT {} PRIMARY KEY ({})").format(
            sql.Identifier(f"{table}_pkey"), sql.Identifier(PKEYS[table])
        )
    )
    return sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), sql.SQL(", ").join(parts))


def create_tables(conn: psycopg.Connection, *, drop_existing: bool = False) -> None:
    """Create every ``elasticc2_*`` table (columns and primary keys; no secondary indexes).

    With ``drop_existing`` the tables are dropped first; otherwise an existing table is an error
    (``psycopg.errors.DuplicateTable``), so a real TOM database is never overwritten by accident.
    """
    with conn.cursor() as cur:
        if drop_existing:
            for table in reversed(COLUMNS):
                cur.execute(
                    sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(table))
                )
        for table in COLUMNS:
            cur.execute(_create_table_sql(table))


def _q3c_available(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'q3c'").fetchone()
    return row is not None


def create_indexes(conn: psycopg.Connection) -> None:
    """Create the secondary indexes, unique constraints and foreign keys (after loading: much
    faster than before)."""
    with conn.cursor() as cur:
        for name, table, cols in INDEXES:
            cur.execute(
                sql.SQL("CREATE INDEX {} ON {} ({})").format(
                    sql.Identifier(name),
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, cols)),
                )
            )
        for name, table, col in LIKE_INDEXES:
            cur.execute(
                sql.SQL("CREATE INDEX {} ON {} ({} text_pattern_ops)").format(
                    sql.Identifier(name), sql.Identifier(table), sql.Identifier(col)
                )
            )
        for name, table, cols in UNIQUE:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})").format(
                    sql.Identifier(table),
                    sql.Identifier(name),
                    sql.SQL(", ").join(map(sql.Identifier, cols)),
                )
            )
        for table, col, ref, refcol in FOREIGN_KEYS:
            cur.execute(
                sql.SQL(
                    "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) "
                    "DEFERRABLE INITIALLY DEFERRED"
                ).format(
                    sql.Identifier(table),
                    sql.Identifier(django_index_name(table, (col,), f"_fk_{ref}_{refcol}")),
                    sql.Identifier(col),
                    sql.Identifier(ref),
                    sql.Identifier(refcol),
                )
            )
        # q3c indexes cannot exist without the q3c extension (absent from the embedded cluster)
        if _q3c_available(conn):
            cur.execute("CREATE EXTENSION IF NOT EXISTS q3c")
            for name, table in Q3C:
                cur.execute(
                    sql.SQL("CREATE INDEX {} ON {} (q3c_ang2ipix(ra, decl))").format(
                        sql.Identifier(name), sql.Identifier(table)
                    )
                )
        else:
            log.info("q3c extension not available: sky indexes skipped")


def create_schema(conn: psycopg.Connection, *, drop_existing: bool = False) -> None:
    """Create the empty ``elasticc2_*`` schema (tables, keys, indexes) and commit."""
    create_tables(conn, drop_existing=drop_existing)
    create_indexes(conn)
    conn.commit()


# --------------------------------------------------------------------------------------------
# SNANA -> TOM tables
# --------------------------------------------------------------------------------------------


def _head_mapping() -> dict[str, str]:
    """DB column -> SNANA HEAD column, as ``load_snana_fits`` maps them."""
    mapping = {
        "ra": "RA",
        "decl": "DEC",
        "mwebv": "MWEBV",
        "mwebv_err": "MWEBV_ERR",
        "z_final": "REDSHIFT_FINAL",
        "z_final_err": "REDSHIFT_FINAL_ERR",
    }
    for p in ("hostgal", "hostgal2"):
        snana = p.upper()
        renamed = {
            "zspec": "SPECZ",
            "zspec_err": "SPECZ_ERR",
            "zphot": "PHOTOZ",
            "zphot_err": "PHOTOZ_ERR",
        }
        for col in _host_columns(p):
            suffix = col[len(p) + 1 :]
            if suffix in renamed:
                mapping[col] = f"{snana}_{renamed[suffix]}"
            elif suffix.startswith(("mag_", "magerr_")):
                kind, band = suffix.split("_")
                mapping[col] = f"{snana}_{kind.upper()}_{band.upper() if band == 'y' else band}"
            else:
                mapping[col] = f"{snana}_{suffix.upper()}"
    return mapping


#: DB column -> ``.DUMP`` column for ``elasticc2_diaobjecttruth``.
_TRUTH_MAPPING = {
    "diaobject_id": "CID",
    "sim_template_index": "NON1A_INDEX",
    **{
        c: c.upper()
        if not c.startswith("peakmag_")
        else f"PEAKMAG_{c[-1].upper() if c[-1] == 'y' else c[-1]}"
        for c, *_ in _TRUTH_COLS
        if c not in ("diaobject_id", "sim_template_index")
    },
}

#: The ``.DUMP`` columns behind NOT NULL truth columns (the others may be absent -> NULL).
_TRUTH_REQUIRED = [_TRUTH_MAPPING[c] for c, _t, notnull, _e in _TRUTH_COLS if notnull]

_PL_TYPES = {
    _R: pl.Float32,
    _D: pl.Float64,
    _B: pl.Int64,
    _I: pl.Int32,
    "text": pl.String,
    "boolean": pl.Boolean,
}


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {missing}; expected the SNANA names")


def _cast_to(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Select ``table``'s columns in order, cast to the PostgreSQL types' polars equivalents."""
    exprs = []
    for name, typ, *_ in COLUMNS[table]:
        dtype = _PL_TYPES.get(typ)
        exprs.append(pl.col(name).cast(dtype) if dtype is not None else pl.col(name))
    return frame.select(exprs)


def ppdb_tables(
    samples: Sequence, *, simversion: str = DEFAULT_SIMVERSION
) -> dict[str, pl.DataFrame]:
    """The PPDB and truth tables of a simulated campaign, as the TOM's ``load_snana_fits`` fills them.

    ``samples`` are :class:`elasticc_tutorial.sample.campaign.ModelSample` objects. Returns frames
    with exactly the table columns (in order, typed) for ``elasticc2_ppdbdiaobject``,
    ``elasticc2_ppdbdiasource``, ``elasticc2_ppdbdiaforcedsource``, ``elasticc2_diaobjecttruth``,
    plus ``elasticc2_ppdbalert`` with a null ``alertsenttimestamp`` (the stream sets it). Forced
    sources and sources are sorted by (diaobject_id, midpointtai); ``nobs`` gives each object's
    point count and the photometry must be in time order per object.
    """
    head_map = _head_mapping()
    objects, forced, truths = [], [], []
    for s in samples:
        what = f"model {s.model!r}"
        _require(s.head, ["SNID", "RA", "DEC"], f"{what} HEAD")
        _require(
            s.phot, ["SNID", "MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR"], f"{what} PHOT"
        )
        _require(s.truth, _TRUTH_REQUIRED, f"{what} truth (.DUMP)")
        # nullable columns missing from a model's HEAD (e.g. the photo-z quantiles of the
        # galactic LCLIB models) are NULL, as in the TOM
        obj = s.head.select(
            pl.col("SNID").cast(pl.String).str.strip_chars().cast(pl.Int64).alias("diaobject_id"),
            *[
                pl.col(snana).alias(db) if snana in s.head.columns else pl.lit(None).alias(db)
                for db, snana in head_map.items()
            ],
        )
        objects.append(obj)
        ph = s.phot.select(
            pl.col("SNID").cast(pl.Int64).alias("diaobject_id"),
            pl.col("MJD").cast(pl.Float64).alias("midpointtai"),
            pl.col("BAND").cast(pl.String).str.strip_chars().alias("filtername"),
            (pl.col("FLUXCAL").cast(pl.Float64) * FLUXCAL_TO_NJY).alias("psflux"),
            (pl.col("FLUXCALERR").cast(pl.Float64) * FLUXCAL_TO_NJY).alias("psfluxerr"),
            pl.col("PHOTFLAG").cast(pl.Int64).alias("photflag"),
        )
        forced.append(ph)
        truths.append(
            s.truth.select(
                pl.col(v).alias(k) if v in s.truth.columns else pl.lit(None).alias(k)
                for k, v in _TRUTH_MAPPING.items()
            )
        )
    if not objects:
        raise ValueError("no model samples given")
    obj = pl.concat(objects, how="vertical_relaxed")
    if obj["diaobject_id"].is_duplicated().any():
        dup = obj.filter(pl.col("diaobject_id").is_duplicated())["diaobject_id"][0]
        raise ValueError(f"SNID {dup} occurs more than once across the model samples")
    fs = pl.concat(forced, how="vertical_relaxed")
    unknown = fs.filter(~pl.col("diaobject_id").is_in(obj["diaobject_id"].implode()))
    if unknown.height:
        raise ValueError(f"PHOT rows with SNID {unknown['diaobject_id'][0]} have no HEAD row")
    fs = fs.with_columns(
        (
            pl.col("diaobject_id") * SOURCE_ID_FACTOR + pl.int_range(pl.len()).over("diaobject_id")
        ).alias("diaforcedsource_id")
    )
    npts = fs.group_by("diaobject_id").agg(
        pl.len().alias("npts"), (pl.col("midpointtai").diff() < 0).any().alias("unsorted")
    )
    bad = npts.filter(pl.col("unsorted") | (pl.col("npts") >= SOURCE_ID_FACTOR))
    if bad.height:
        raise ValueError(
            f"PHOT of SNID {bad['diaobject_id'][0]} is not in time order or has "
            f">= {SOURCE_ID_FACTOR} points"
        )
    obj = (
        obj.join(npts.select("diaobject_id", "npts"), on="diaobject_id", how="left")
        .with_columns(
            pl.lit(simversion).alias("simversion"),
            (pl.col("npts").fill_null(0) > DDF_MIN_POINTS).alias("isddf"),
        )
        .sort("diaobject_id")
    )
    fs = fs.sort("diaobject_id", "midpointtai", "diaforcedsource_id")
    src = (
        fs.filter((pl.col("photflag") & PHOTFLAG_DETECT) != 0)
        .join(obj.select("diaobject_id", "ra", "decl"), on="diaobject_id", how="left")
        .with_columns(
            pl.col("diaforcedsource_id").alias("diasource_id"),
            (pl.col("psflux") / pl.col("psfluxerr")).alias("snr"),
        )
    )
    alert = src.select(
        pl.col("diasource_id").alias("alert_id"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("alertsenttimestamp"),
        "diasource_id",
        "diaobject_id",
    )
    truth = pl.concat(truths, how="vertical_relaxed").sort("diaobject_id")
    return {
        "elasticc2_ppdbdiaobject": _cast_to("elasticc2_ppdbdiaobject", obj),
        "elasticc2_ppdbdiasource": _cast_to("elasticc2_ppdbdiasource", src),
        "elasticc2_ppdbdiaforcedsource": _cast_to("elasticc2_ppdbdiaforcedsource", fs),
        "elasticc2_ppdbalert": alert,
        "elasticc2_diaobjecttruth": _cast_to("elasticc2_diaobjecttruth", truth),
    }


def taxonomy_tables() -> dict[str, pl.DataFrame]:
    """``elasticc2_gentypeofclassid`` and ``elasticc2_classidofgentype`` from :mod:`taxonomy`."""
    g = taxonomy.gentype_of_classid_table()
    c = taxonomy.classid_of_gentype_table()
    return {
        "elasticc2_gentypeofclassid": g.with_row_index("id", offset=1).select(
            [name for name, *_ in COLUMNS["elasticc2_gentypeofclassid"]]
        ),
        "elasticc2_classidofgentype": c.with_row_index("id", offset=1).select(
            [name for name, *_ in COLUMNS["elasticc2_classidofgentype"]]
        ),
    }


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _pg_array(col: str) -> pl.Expr:
    """A list column as PostgreSQL array text, e.g. ``{2222,200}``."""
    return pl.format("{{{}}}", pl.col(col).cast(pl.List(pl.String)).list.join(","))


def copy_frame(
    conn: psycopg.Connection, table: str, frame: pl.DataFrame, *, chunk_rows: int = 200_000
) -> int:
    """COPY ``frame`` (columns named as in ``table``) into ``table``; returns the row count.

    The frame is written as CSV by polars in chunks and streamed through ``COPY ... FROM STDIN``,
    so no per-row Python work happens. List columns become PostgreSQL arrays, timestamps ISO 8601
    with offset; nulls are empty unquoted fields.
    """
    if table not in COLUMNS:
        raise ValueError(f"unknown table {table!r}; expected one of {list(COLUMNS)}")
    expected = [c for c, *_ in COLUMNS[table]]
    extra = [c for c in frame.columns if c not in expected]
    if extra:
        raise ValueError(f"frame for {table} has columns {extra} that the table does not have")
    exprs = []
    for c in frame.columns:
        dtype = frame.schema[c]
        if isinstance(dtype, pl.List):
            exprs.append(_pg_array(c).alias(c))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(
                pl.col(c)
                .dt.convert_time_zone("UTC")
                .dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00")
                .alias(c)
            )
        else:
            exprs.append(pl.col(c))
    out = frame.select(exprs)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    )
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for start in range(0, max(out.height, 1), chunk_rows):
            buf = io.BytesIO()
            out.slice(start, chunk_rows).write_csv(buf, include_header=False, float_precision=None)
            copy.write(buf.getvalue())
    return frame.height


def _reset_identity(conn: psycopg.Connection, table: str, column: str) -> None:
    """Move an identity column's sequence past the explicit ids that COPY inserted."""
    conn.execute(
        sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE((SELECT max({}) FROM {}), 0) + 1, false)"
        ).format(sql.Identifier(column), sql.Identifier(table)),
        (table, column),
    )


#: The training-set tables and the PPDB tables they mirror.
TRAINING_TABLES = {
    "elasticc2_ppdbdiaobject": "elasticc2_trainingdiaobject",
    "elasticc2_ppdbdiasource": "elasticc2_trainingdiasource",
    "elasticc2_ppdbdiaforcedsource": "elasticc2_trainingdiaforcedsource",
    "elasticc2_ppdbalert": "elasticc2_trainingalert",
    "elasticc2_diaobjecttruth": "elasticc2_trainingdiaobjecttruth",
}


def training_tables(
    samples: Sequence, *, simversion: str = DEFAULT_SIMVERSION
) -> dict[str, pl.DataFrame]:
    """The ``elasticc2_training*`` tables of a training set (same mapping as :func:`ppdb_tables`;
    training alerts are never sent, so ``alertsenttimestamp`` is null)."""
    frames = ppdb_tables(samples, simversion=simversion)
    return {TRAINING_TABLES[t]: f for t, f in frames.items()}


def load(
    conn: psycopg.Connection,
    frames: Mapping[str, pl.DataFrame],
    *,
    training: Sequence | None = None,
    drop_existing: bool = False,
) -> dict[str, int]:
    """Create the schema, COPY every frame into its table, derive the summary tables, index,
    analyse and commit.

    ``frames`` maps table names (see :func:`table_names`) to frames with the table's columns;
    ``training`` (ModelSamples of the training set) fills the ``elasticc2_training*`` tables. The
    tables the TOM derives (diaobjectinfo, diaobjectclassification, brokersourceids,
    importppdbrunning) are computed from the loaded rows unless ``frames`` gives them; the spectrum
    tables and diaobjectoftarget stay empty. Returns ``{table: rows loaded}``. Raises before
    writing anything if a frame names an unknown table.
    """
    unknown = [t for t in frames if t not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown table(s) {unknown}; expected some of {list(COLUMNS)}")
    frames = dict(frames)
    if training:  # None or an empty training set: the training tables stay empty
        clash = [t for t in TRAINING_TABLES.values() if t in frames]
        if clash:
            raise ValueError(f"training= and frames both give {clash}; give one of them")
        frames.update(training_tables(training))
    create_tables(conn, drop_existing=drop_existing)
    counts = {}
    for table in COLUMNS:
        if table in frames:
            counts[table] = copy_frame(conn, table, frames[table])
    for table, cols in COLUMNS.items():
        for name, _typ, _nn, extra in cols:
            if "IDENTITY" in extra and table in frames:
                _reset_identity(conn, table, name)
    for table, stmt in DERIVED_SQL.items():
        if table not in frames:
            counts[table] = conn.execute(stmt).rowcount
    create_indexes(conn)
    conn.commit()
    with conn.cursor() as cur:
        prev = conn.autocommit
        conn.autocommit = True
        try:
            for table in COLUMNS:
                cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        finally:
            conn.autocommit = prev
    return counts
