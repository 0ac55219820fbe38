"""The sample's alert stream: AVRO alert tarballs, broker replies and the TOM database.

Entry point :func:`write_alerts_and_database` (called by the sample build) writes, under ``root``:

``ELASTICC2_ALERTS/<mjd>.tar``
    One uncompressed tar per integer MJD night, as ``dump_elasticc2_alert_tars.py`` wrote them:
    members ``<alertId>.avro`` (mode 0664), each one schemaless ``elasticc.v0_9_1.alert``, byte
    for byte what ``fastavro.schemaless_writer`` writes (read it with ``schemaless_reader`` and
    :func:`elasticc_tutorial.schema.load_schema`), ordered by ``midPointTai``. One alert per
    detection; ``alertId = diaSourceId = SNID * 100000 + point index``. ``prvDiaSources`` = the
    object's detections in the 365 d before the alert (strictly earlier; an empty array for the
    first detection); ``prvDiaForcedSources`` = null unless the alert is more than 0.5 d after
    the object's first detection, then every forced point with ``max(t - 365, first detection -
    30) <= t' < t``, in time order. Member mtime = the alert's scheduled send time.

``ELASTICC2_BROKER_MESSAGES/<mjd>.tar``
    The broker replies, one tar per (UTC) night of broker ingest: ``<mjd>`` is the integer MJD of
    ``brokerIngestTimestamp`` (the campaign ran 2023-11-16 to 2023-12-14, MJD 60264-60292).
    One member per classifier, ``<brokerName>_<classifierName>.avro`` (characters other than
    letters, digits and ``._+-`` -> ``-``), an Avro *object container file* (schema embedded, read
    with ``fastavro.reader``) of ``elasticc.v0_9_1.brokerClassification`` records in Kafka
    (``msghdrtimestamp``) order. Containers rather than one member per message keep the tars
    small: a tar member costs >= 1 KiB, a message ~100 bytes.

``tomdb/``
    An embedded PostgreSQL cluster with database ``tom_desc`` holding the ``elasticc2_*`` tables
    (:mod:`elasticc_tutorial.sample.db`), unless ``database_url`` names another server.

The simulated campaign clock (ELAsTiCC2 streamed three simulated years between mid-November and
mid-December 2023): the first simulated night with an alert is sent from
:data:`CAMPAIGN_START`, and the stream advances :data:`SIM_DAYS_PER_DAY` simulated days per
wall-clock day, so an alert at MJD ``t`` is sent at ``CAMPAIGN_START + (t - first night) /
SIM_DAYS_PER_DAY``. The database is a snapshot taken at :data:`SNAPSHOT`: alerts whose send time is
later were never sent (``alertsenttimestamp`` NULL), and no broker replied to them. The TOM's
"known" tables (``elasticc2_diaobject``/``diasource``/``diaforcedsource``) hold what the sent,
answered alerts carried: their objects, their sources and the forced sources inside their
``prvDiaForcedSources``.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import numpy as np
import polars as pl

from elasticc_tutorial.sample import brokers, db
from elasticc_tutorial.schema import load_schema

__all__ = [
    "ALERTS_DIR",
    "BROKER_DIR",
    "CAMPAIGN_START",
    "FORCED_BEFORE_FIRST_DAYS",
    "FORCED_MIN_AGE_DAYS",
    "PRV_DAYS",
    "SIM_DAYS_PER_DAY",
    "SNAPSHOT",
    "TOM_DATABASE",
    "encode_alerts",
    "in_window",
    "known_tables",
    "stream_schedule",
    "tom_frames",
    "write_alert_tars",
    "write_alerts_and_database",
    "write_broker_tars",
]

log = logging.getLogger(__name__)

ALERTS_DIR = "ELASTICC2_ALERTS"
BROKER_DIR = "ELASTICC2_BROKER_MESSAGES"
TOM_DATABASE = "tom_desc"

#: Alert history windows (``BaseAlert.reconstruct`` with daysprevious=365).
PRV_DAYS = 365.0
FORCED_BEFORE_FIRST_DAYS = 30.0
FORCED_MIN_AGE_DAYS = 0.5

#: Wall-clock time at which the first simulated night was streamed.
CAMPAIGN_START = datetime(2023, 11, 16, 0, 0, tzinfo=UTC)
#: Simulated days streamed per wall-clock day (three years in about a month).
SIM_DAYS_PER_DAY = 36.5
#: Time of the database snapshot; later alerts were never sent.
SNAPSHOT = datetime(2023, 12, 14, 0, 0, tzinfo=UTC)

_EPOCH_MS = int(CAMPAIGN_START.timestamp() * 1000)
_UNIX_EPOCH_MJD = 40587  # MJD of 1970-01-01


def stream_schedule(midpointtai: np.ndarray, first_night: int) -> np.ndarray:
    """Send time (ms since the Unix epoch) of alerts at ``midpointtai`` (MJD)."""
    days = (np.asarray(midpointtai, dtype=np.float64) - first_night) / SIM_DAYS_PER_DAY
    return _EPOCH_MS + np.round(days * 86_400_000.0).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Alert records
# --------------------------------------------------------------------------------------------

_SOURCE_AVRO = {
    "diasource_id": "diaSourceId",
    "diaobject_id": "diaObjectId",
    "midpointtai": "midPointTai",
    "filtername": "filterName",
    "ra": "ra",
    "decl": "decl",
    "psflux": "psFlux",
    "psfluxerr": "psFluxErr",
    "snr": "snr",
}
_FORCED_AVRO = {
    "diaforcedsource_id": "diaForcedSourceId",
    "diaobject_id": "diaObjectId",
    "midpointtai": "midPointTai",
    "filtername": "filterName",
    "psflux": "psFlux",
    "psfluxerr": "psFluxErr",
}


def _object_avro_name(col: str) -> str:
    if col == "diaobject_id":
        return "diaObjectId"
    if col == "simversion":
        return "simVersion"
    return re.sub(r"_(mag|magerr)_y$", r"_\1_Y", col)


def _zigzag(n: int) -> bytes:
    """Avro ``long`` encoding (zig-zag varint)."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _encode_each(records: list[dict], schema: dict) -> tuple[bytes, list[int]]:
    """fastavro encodings of ``records`` back to back, and the offset where each one starts."""
    buf = io.BytesIO()
    offsets = [0]
    for rec in records:
        fastavro.schemaless_writer(buf, schema, rec)
        offsets.append(buf.tell())
    return buf.getvalue(), offsets


def encode_alerts(ppdb: dict[str, pl.DataFrame]) -> Iterator[tuple[int, float, bytes]]:
    """Yield ``(alertId, midPointTai, schemaless alert bytes)`` for every PPDB source.

    ``ppdb`` is the output of :func:`elasticc_tutorial.sample.db.ppdb_tables`. Speed: an Avro
    record is the concatenation of its fields' encodings and an array is ``count, items, 0``, so
    each source, forced source and object is encoded once with ``fastavro.schemaless_writer`` and
    every alert is assembled from slices of those bytes. The result is byte for byte what
    ``fastavro.schemaless_writer(fh, load_schema("alert"), record)`` writes (the tests check this),
    at a fraction of the cost: a source appears in up to hundreds of alerts.
    """
    obj = ppdb["elasticc2_ppdbdiaobject"]
    src = ppdb["elasticc2_ppdbdiasource"].sort("diaobject_id", "midpointtai", "diasource_id")
    fs = ppdb["elasticc2_ppdbdiaforcedsource"].sort(
        "diaobject_id", "midpointtai", "diaforcedsource_id"
    )
    obj_dicts = (
        obj.drop("isddf").rename({c: _object_avro_name(c) for c in obj.columns if c != "isddf"})
    ).to_dicts()
    obj_blob, obj_off = _encode_each(obj_dicts, load_schema("diaObject"))
    obj_bytes = {
        d["diaObjectId"]: obj_blob[obj_off[k] : obj_off[k + 1]] for k, d in enumerate(obj_dicts)
    }
    src_blob, src_off = _encode_each(
        src.select(pl.col(k).alias(v) for k, v in _SOURCE_AVRO.items()).to_dicts(),
        load_schema("diaSource"),
    )
    fs_blob, fs_off = _encode_each(
        fs.select(pl.col(k).alias(v) for k, v in _FORCED_AVRO.items()).to_dicts(),
        load_schema("diaForcedSource"),
    )
    src_ids = src["diasource_id"].to_list()
    src_obj = src["diaobject_id"].to_numpy()
    src_t = src["midpointtai"].to_numpy()
    fs_obj = fs["diaobject_id"].to_numpy()
    fs_t = fs["midpointtai"].to_numpy()
    objects, src_start = np.unique(src_obj, return_index=True)
    src_end = np.append(src_start[1:], len(src_obj))
    fs_start = np.searchsorted(fs_obj, objects, side="left")
    fs_end = np.searchsorted(fs_obj, objects, side="right")
    union_1, end = b"\x02", b"\x00"  # union branch 1 (non-null); end of array / null branch
    for oid, s0, s1, f0, f1 in zip(objects, src_start, src_end, fs_start, fs_end, strict=True):
        t = src_t[s0:s1]
        ft = fs_t[f0:f1]
        first = t[0]
        prv_lo = (np.searchsorted(t, t - PRV_DAYS, side="left") + s0).tolist()
        prv_hi = (np.searchsorted(t, t, side="left") + s0).tolist()  # strictly earlier
        lo = np.maximum(t - PRV_DAYS, first - FORCED_BEFORE_FIRST_DAYS)
        f_lo = (np.searchsorted(ft, lo, side="left") + f0).tolist()
        f_hi = (np.searchsorted(ft, t, side="left") + f0).tolist()
        with_forced = (t > first + FORCED_MIN_AGE_DAYS).tolist()
        dia_object = union_1 + obj_bytes[int(oid)]
        for j, i in enumerate(range(s0, s1)):
            a, b = prv_lo[j], prv_hi[j]
            prv = _zigzag(b - a) + src_blob[src_off[a] : src_off[b]] + end if b > a else end
            if with_forced[j]:
                a, b = f_lo[j], f_hi[j]
                items = _zigzag(b - a) + fs_blob[fs_off[a] : fs_off[b]] if b > a else b""
                forced = union_1 + items + end
            else:
                forced = end
            alert_id = src_ids[i]
            data = b"".join(
                (
                    _zigzag(alert_id),
                    src_blob[src_off[i] : src_off[i + 1]],
                    union_1,
                    prv,
                    forced,
                    dia_object,
                )
            )
            yield alert_id, float(t[j]), data


# --------------------------------------------------------------------------------------------
# Tar writers
# --------------------------------------------------------------------------------------------


def _add_member(tar: tarfile.TarFile, name: str, data: bytes, mtime_ms: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o664
    info.mtime = mtime_ms // 1000
    tar.addfile(info, io.BytesIO(data))


def _open_tmp_tar(path: Path) -> tuple[Path, tarfile.TarFile]:
    tmp = path.with_name(path.name + ".part")
    return tmp, tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT)


def write_alert_tars(
    ppdb: dict[str, pl.DataFrame], outdir: Path, send_ms: dict[int, int], *, progress: bool = False
) -> dict[int, int]:
    """Write ``outdir/<mjd>.tar`` files of schemaless alerts; returns ``{night: alert count}``.

    ``send_ms`` maps alertId to its scheduled send time (ms), used as the member mtime.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    records = sorted(encode_alerts(ppdb), key=lambda r: (r[1], r[0]))
    counts: dict[int, int] = {}
    by_night: dict[int, list[tuple[int, float, bytes]]] = {}
    for rec in records:
        by_night.setdefault(math.floor(rec[1]), []).append(rec)
    nights: Iterable[int] = sorted(by_night)
    if progress:
        from tqdm.auto import tqdm

        nights = tqdm(nights, desc="alert tars", unit="night")
    for night in nights:
        path = outdir / f"{night}.tar"
        tmp, tar = _open_tmp_tar(path)
        with tar:
            for alert_id, _t, data in by_night[night]:
                _add_member(tar, f"{alert_id}.avro", data, send_ms[alert_id])
        os.replace(tmp, path)
        counts[night] = len(by_night[night])
    return counts


def _member_name(brokername: str, classifiername: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", f"{brokername}_{classifiername}") + ".avro"


def write_broker_tars(
    messages: pl.DataFrame, classifiers: pl.DataFrame, outdir: Path
) -> dict[int, int]:
    """Write ``outdir/<mjd>.tar``: per night of broker ingest, one Avro container per classifier.

    ``messages`` has the ``elasticc2_brokermessage`` columns, ``classifiers`` the
    ``elasticc2_brokerclassifier`` rows. ``<mjd>`` is the integer MJD (UTC) of the messages'
    ``brokeringesttimestamp``. Returns ``{mjd: message count}``.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    schema = load_schema("brokerClassification")
    pairs = (
        messages.select("brokermessage_id", "classid", "probability")
        .explode("classid", "probability")
        .select(
            "brokermessage_id",
            pl.struct(pl.col("classid").cast(pl.Int32).alias("classId"), "probability").alias("c"),
        )
        .group_by("brokermessage_id", maintain_order=True)
        .agg(pl.col("c").alias("classifications"))
    )
    m = (
        messages.with_columns(
            (pl.col("brokeringesttimestamp").dt.epoch("ms") // 86_400_000 + _UNIX_EPOCH_MJD).alias(
                "night"
            )
        )
        .join(pairs, on="brokermessage_id", how="left")
        .join(classifiers.drop("modified"), on="classifier_id", how="left")
        .sort("night", "classifier_id", "msghdrtimestamp", "alert_id")
    )
    if m["brokername"].null_count():
        raise ValueError("broker messages name a classifier_id missing from classifiers")
    records = m.select(
        "night",
        "classifier_id",
        pl.col("msghdrtimestamp").dt.epoch("ms").alias("mtime_ms"),
        pl.col("alert_id").alias("alertId"),
        pl.col("diasource_id").alias("diaSourceId"),
        pl.col("elasticcpublishtimestamp").dt.epoch("ms").alias("elasticcPublishTimestamp"),
        pl.col("brokeringesttimestamp").dt.epoch("ms").alias("brokerIngestTimestamp"),
        pl.col("brokername").alias("brokerName"),
        pl.col("brokerversion").alias("brokerVersion"),
        pl.col("classifiername").alias("classifierName"),
        pl.col("classifierparams").alias("classifierParams"),
        "classifications",
    )
    counts: dict[int, int] = {}
    keys = records.select("night", "classifier_id", "mtime_ms").rows()
    dicts = records.drop("night", "classifier_id", "mtime_ms").to_dicts()
    bounds = np.flatnonzero(
        np.diff(records["night"].to_numpy()) | np.diff(records["classifier_id"].to_numpy())
    )
    starts = [0, *(bounds + 1).tolist()]
    ends = [*(bounds + 1).tolist(), len(dicts)]
    groups: dict[int, list[tuple[int, int, int]]] = {}
    for a, b in zip(starts, ends, strict=True):
        groups.setdefault(keys[a][0], []).append((keys[a][1], a, b))
    for night, parts in groups.items():
        path = outdir / f"{night}.tar"
        tmp, tar = _open_tmp_tar(path)
        with tar:
            for cid, a, b in parts:
                mtime = max(k[2] for k in keys[a:b])
                buf = io.BytesIO()
                # a fixed sync marker keeps the file deterministic (fastavro draws a random one)
                fastavro.writer(
                    buf, schema, dicts[a:b], sync_marker=f"{night:08d}{cid:08d}".encode()
                )
                name = _member_name(dicts[a]["brokerName"], dicts[a]["classifierName"])
                _add_member(tar, name, buf.getvalue(), mtime)
        os.replace(tmp, path)
        counts[night] = sum(b - a for _c, a, b in parts)
    return counts


# --------------------------------------------------------------------------------------------
# The TOM's "known" tables
# --------------------------------------------------------------------------------------------


def known_tables(
    ppdb: dict[str, pl.DataFrame], heard_alert_ids: pl.Series
) -> dict[str, pl.DataFrame]:
    """``elasticc2_diaobject``/``diasource``/``diaforcedsource``: what answered alerts carried.

    Sources of the answered alerts, their objects, and every forced source that lies inside the
    ``prvDiaForcedSources`` window of at least one answered alert.
    """
    src = ppdb["elasticc2_ppdbdiasource"]
    heard = src.filter(pl.col("diasource_id").is_in(heard_alert_ids.implode()))
    first = src.group_by("diaobject_id").agg(pl.col("midpointtai").min().alias("first"))
    windows = (
        heard.join(first, on="diaobject_id")
        .filter(pl.col("midpointtai") > pl.col("first") + FORCED_MIN_AGE_DAYS)
        .select(
            "diaobject_id",
            pl.col("midpointtai").alias("t_alert"),
            pl.max_horizontal(
                pl.col("midpointtai") - PRV_DAYS, pl.col("first") - FORCED_BEFORE_FIRST_DAYS
            ).alias("lo"),
        )
        .sort("t_alert")
    )
    fs = ppdb["elasticc2_ppdbdiaforcedsource"]
    # the first answered alert after a forced point has the lowest window start of all later ones
    # (window starts never decrease with alert time), so it alone decides whether a point is covered
    covered = (
        fs.filter(pl.col("diaobject_id").is_in(windows["diaobject_id"].implode()))
        .sort("midpointtai")
        .join_asof(
            windows,
            left_on="midpointtai",
            right_on="t_alert",
            by="diaobject_id",
            strategy="forward",
            allow_exact_matches=False,
            check_sortedness=False,  # sorted by midpointtai overall, hence within each object
        )
        .filter(pl.col("lo") <= pl.col("midpointtai"))
        .select(fs.columns)
        .sort("diaobject_id", "midpointtai", "diaforcedsource_id")
    )
    objects = ppdb["elasticc2_ppdbdiaobject"].filter(
        pl.col("diaobject_id").is_in(heard["diaobject_id"].implode())
    )
    return {
        "elasticc2_diaobject": objects,
        "elasticc2_diasource": heard,
        "elasticc2_diaforcedsource": covered,
    }


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def _sent_alerts(ppdb: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, int]:
    """Alerts with night, detection count so far, scheduled send time and sent flag."""
    src = ppdb["elasticc2_ppdbdiasource"]
    if src.height == 0:
        raise ValueError("the campaign has no detections (PHOTFLAG & 4096): nothing to alert")
    first_night = math.floor(src.select(pl.col("midpointtai").min()).item())
    a = src.sort("diaobject_id", "midpointtai", "diasource_id").select(
        pl.col("diasource_id").alias("alert_id"),
        "diasource_id",
        "diaobject_id",
        "midpointtai",
        pl.col("midpointtai").floor().cast(pl.Int64).alias("night"),
        (pl.int_range(pl.len()).over("diaobject_id") + 1).alias("ndet"),
    )
    send = stream_schedule(a["midpointtai"].to_numpy(), first_night)
    snapshot_ms = int(SNAPSHOT.timestamp() * 1000)
    a = a.with_columns(
        pl.Series("sched_ms", send, dtype=pl.Int64),
        pl.Series("sent", send <= snapshot_ms),
    ).with_columns(
        pl.when(pl.col("sent")).then(pl.col("sched_ms")).alias("sent_ms"),
    )
    return a, first_night


def in_window(
    ppdb: dict[str, pl.DataFrame], window: tuple[float, float]
) -> dict[str, pl.DataFrame]:
    """``ppdb`` with only the sources, forced sources and alerts at ``window[0] <= MJD <
    window[1]``: the part of the survey that was streamed. Objects and truth stay complete, and
    the ids keep their full-light-curve point index (SNID * 100000 + point)."""
    lo, hi = window
    if not lo < hi:
        raise ValueError(f"alert window must be (start, end) with start < end, got {window!r}")
    inside = pl.col("midpointtai").is_between(lo, hi, closed="left")
    out = dict(ppdb)
    src = ppdb["elasticc2_ppdbdiasource"].filter(inside)
    out["elasticc2_ppdbdiasource"] = src
    out["elasticc2_ppdbdiaforcedsource"] = ppdb["elasticc2_ppdbdiaforcedsource"].filter(inside)
    out["elasticc2_ppdbalert"] = ppdb["elasticc2_ppdbalert"].filter(
        pl.col("diasource_id").is_in(src["diasource_id"].implode())
    )
    return out


def tom_frames(
    samples: Sequence, *, seed: int, window: tuple[float, float] | None = None
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Every table's frame for the sample TOM, and the alert schedule used.

    Returns ``(frames, alerts)``: ``frames`` maps each ``elasticc2_*`` table to its rows (for
    :func:`elasticc_tutorial.sample.db.load`); ``alerts`` has one row per alert with ``night``,
    ``ndet``, ``sched_ms``, ``sent`` and ``sent_ms``. With ``window`` (MJD start, end), only that
    part of the survey is streamed (:func:`in_window`).
    """
    ppdb = db.ppdb_tables(samples)
    if window is not None:
        ppdb = in_window(ppdb, window)
    alerts, _first_night = _sent_alerts(ppdb)
    sent = alerts.filter(pl.col("sent"))
    messages = brokers.classify(sent, ppdb["elasticc2_diaobjecttruth"], seed=seed)
    first_msg = messages.group_by("classifier_id").agg(pl.col("msghdrtimestamp").min())
    classifiers = brokers.classifier_table(dict(first_msg.iter_rows()))
    ppdb["elasticc2_ppdbalert"] = (
        ppdb["elasticc2_ppdbalert"]
        .drop("alertsenttimestamp")
        .join(alerts.select("alert_id", "sent_ms"), on="alert_id", how="left")
        .select(
            "alert_id",
            pl.col("sent_ms").cast(pl.Datetime("ms", "UTC")).alias("alertsenttimestamp"),
            "diasource_id",
            "diaobject_id",
        )
    )
    frames = dict(ppdb)
    frames.update(known_tables(ppdb, messages["alert_id"].unique()))
    frames["elasticc2_brokerclassifier"] = classifiers
    frames["elasticc2_brokermessage"] = messages
    frames.update(db.taxonomy_tables())
    return frames, alerts


def _describe(url: str) -> str:
    """``dbname`` on ``host:port`` of a URL or conninfo string, never its password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:
        return "(unparsable connection string)"
    host = info.get("host") or "localhost"
    port = f":{info['port']}" if info.get("port") else ""
    return f"{info.get('dbname', '?')!r} on {host}{port}"


def _connect_and_load(
    url: str,
    frames: dict[str, pl.DataFrame],
    *,
    create_db: bool,
    training: Sequence = (),
) -> None:
    import psycopg
    from psycopg.conninfo import make_conninfo

    from elasticc_tutorial import pg

    server_url = url
    if create_db:
        with pg.connect(url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (TOM_DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{TOM_DATABASE}"')
            # our own cluster (1 MB WAL segments, see pg.embedded_server): keep only a few
            # segments, so the sample directory does not carry tens of MB of log recycled for
            # future writes (the sample is read-mostly)
            conn.execute("ALTER SYSTEM SET min_wal_size = '4MB'")
            conn.execute("ALTER SYSTEM SET max_wal_size = '32MB'")
            conn.execute("SELECT pg_reload_conf()")
        url = make_conninfo(url, dbname=TOM_DATABASE)
    with pg.connect(url) as conn:
        try:
            counts = db.load(conn, frames, training=training)
        except psycopg.errors.DuplicateTable as exc:
            raise RuntimeError(
                f"the database {_describe(url)} already has elasticc2_* tables ({exc}); "
                "drop them or give an empty database"
            ) from None
    if create_db:
        with pg.connect(server_url, autocommit=True) as conn:
            # the load is done: shrink the log budget so the checkpoint removes the segments the
            # load filled instead of keeping them recycled for writes that will never come
            conn.execute("ALTER SYSTEM SET max_wal_size = '4MB'")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("CHECKPOINT")
            conn.execute("SELECT pg_switch_wal()")
            conn.execute("CHECKPOINT")
    log.info("loaded TOM tables: %s", counts)


def write_alerts_and_database(
    samples: Sequence,
    root: Path,
    *,
    seed: int,
    database_url: str | None,
    progress: bool,
    training: Sequence = (),
    window: tuple[float, float] | None = None,
) -> None:
    """Write the alert tars, broker-message tars and TOM database of a sample under ``root``.

    ``samples``: the :class:`~elasticc_tutorial.sample.campaign.ModelSample` list of the campaign
    (test set); ``training``: the training set's, for the database's training tables.
    ``window``: stream only the sources at MJD ``window[0] <= t < window[1]`` (:func:`in_window`).
    ``database_url``: load into that PostgreSQL database instead of the embedded cluster
    ``root/tomdb`` (database ``tom_desc``); its ``elasticc2_*`` tables must not exist yet.
    Deterministic for a given ``seed``.
    """
    root = Path(root)
    frames, alerts = tom_frames(samples, seed=seed, window=window)
    ppdb = {k: frames[k] for k in frames if k.startswith("elasticc2_ppdb")}
    sched = dict(zip(alerts["alert_id"].to_list(), alerts["sched_ms"].to_list(), strict=True))
    n_alerts = write_alert_tars(ppdb, root / ALERTS_DIR, sched, progress=progress)
    write_broker_tars(
        frames["elasticc2_brokermessage"], frames["elasticc2_brokerclassifier"], root / BROKER_DIR
    )
    log.info("wrote %d alerts in %d nights", sum(n_alerts.values()), len(n_alerts))
    if database_url:
        _connect_and_load(database_url, frames, create_db=False, training=training)
    else:
        from elasticc_tutorial import pg

        with pg.embedded_server(root / "tomdb") as url:
            _connect_and_load(url, frames, create_db=True, training=training)
