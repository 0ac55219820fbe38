"""The sample TOM database against the DESC TOM's schema (tom-fidelity.md §5).

The oracle is the transcription below, typed from the reference text (not imported from
``elasticc_tutorial.sample.dbschema``), compared with what PostgreSQL's catalogs say about a database
that :func:`elasticc_tutorial.sample.db.load` built from simulated objects. The tables the TOM
derives (diaobjectinfo, diaobjectclassification, brokersourceids, importppdbrunning) and the
training tables are checked against values recomputed here in Python from the loaded rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import psycopg
import pytest

from elasticc_tutorial import pg
from elasticc_tutorial.sample import alerts_writer, db
from elasticc_tutorial.sample.simulate import simulate_model

pytestmark = pytest.mark.slow

B, D, R, INT, T, BOOL = "bigint", "double precision", "real", "integer", "text", "boolean"
TS = "timestamp with time zone"
NN, NULL = True, False
BANDS = "ugrizy"


def _host(prefix: str) -> list[tuple[str, str, bool]]:
    cols = ["ellipticity", "sqradius", "zspec", "zspec_err", "zphot", "zphot_err"]
    cols += [f"zphot_q{q:03d}" for q in range(0, 101, 10)]
    cols += [f"mag_{b}" for b in BANDS] + ["ra", "dec", "snsep"] + [f"magerr_{b}" for b in BANDS]
    return [(f"{prefix}_{c}", R, NULL) for c in cols]


# §5.1: 73 object columns, isddf last
OBJECT = [
    ("diaobject_id", B, NN),
    ("simversion", T, NULL),
    ("ra", D, NN),
    ("decl", D, NN),
    ("mwebv", R, NULL),
    ("mwebv_err", R, NULL),
    ("z_final", R, NULL),
    ("z_final_err", R, NULL),
    *_host("hostgal"),
    *_host("hostgal2"),
    ("isddf", BOOL, NN),
]
SOURCE = [
    ("diasource_id", B, NN),
    ("midpointtai", D, NN),
    ("filtername", T, NN),
    ("ra", D, NN),
    ("decl", D, NN),
    ("psflux", R, NN),
    ("psfluxerr", R, NN),
    ("snr", R, NN),
    ("diaobject_id", B, NULL),
]
FORCED = [
    ("diaforcedsource_id", B, NN),
    ("midpointtai", D, NN),
    ("filtername", T, NN),
    ("psflux", R, NN),
    ("psfluxerr", R, NN),
    ("diaobject_id", B, NN),
]
ALERT = [
    ("alert_id", B, NN),
    ("alertsenttimestamp", TS, NULL),
    ("diaobject_id", B, NULL),
    ("diasource_id", B, NULL),
]
TRUTH = [
    ("libid", INT, NN),
    ("sim_searcheff_mask", INT, NN),
    ("gentype", INT, NN),
    ("sim_template_index", INT, NN),
    ("zcmb", R, NN),
    ("zhelio", R, NN),
    ("zcmb_smear", R, NN),
    ("ra", D, NN),
    ("dec", D, NN),
    ("mwebv", R, NN),
    ("galid", B, NULL),
    ("galzphot", R, NULL),
    ("galzphoterr", R, NULL),
    ("galsnsep", R, NULL),
    ("galsnddlr", R, NULL),
    ("rv", R, NN),
    ("av", R, NN),
    ("mu", R, NN),
    ("lensdmu", R, NN),
    ("peakmjd", R, NN),
    ("mjd_detect_first", D, NN),
    ("mjd_detect_last", D, NN),
    ("dtseason_peak", R, NN),
    *[(f"peakmag_{b}", R, NN) for b in BANDS],
    ("snrmax", R, NN),
    ("snrmax2", R, NN),
    ("snrmax3", R, NN),
    ("nobs", INT, NN),
    ("nobs_saturate", INT, NN),
    ("diaobject_id", B, NN),
]


def _point(kind: str) -> list[tuple[str, str, bool]]:
    return [
        (f"{kind}_id", B, NULL),
        (f"{kind}flux", D, NULL),
        (f"{kind}fluxerr", D, NULL),
        (f"{kind}mjd", D, NULL),
    ]


EXPECTED: dict[str, list[tuple[str, str, bool]]] = {
    **{f"elasticc2_{f}diaobject": OBJECT for f in ("ppdb", "training", "")},
    **{f"elasticc2_{f}diasource": SOURCE for f in ("ppdb", "training", "")},
    **{f"elasticc2_{f}diaforcedsource": FORCED for f in ("ppdb", "training", "")},
    "elasticc2_ppdbalert": ALERT,
    "elasticc2_trainingalert": ALERT,
    "elasticc2_diaobjecttruth": TRUTH,
    "elasticc2_trainingdiaobjecttruth": TRUTH,
    "elasticc2_brokerclassifier": [
        ("classifier_id", B, NN),
        ("brokername", "character varying(100)", NN),
        ("brokerversion", T, NULL),
        ("classifiername", "character varying(200)", NN),
        ("classifierparams", T, NULL),
        ("modified", TS, NN),
    ],
    "elasticc2_brokermessage": [
        ("brokermessage_id", B, NN),
        ("streammessage_id", B, NULL),
        ("topicname", "character varying(200)", NULL),
        ("alert_id", B, NN),
        ("diasource_id", B, NN),
        ("msghdrtimestamp", TS, NULL),
        ("descingesttimestamp", TS, NN),
        ("elasticcpublishtimestamp", TS, NULL),
        ("brokeringesttimestamp", TS, NULL),
        ("classid", "smallint[]", NN),
        ("classifier_id", B, NN),
        ("probability", "real[]", NN),
    ],
    "elasticc2_brokersourceids": [("diasource_id", B, NN)],
    "elasticc2_importppdbrunning": [("id", B, NN), ("running", BOOL, NN)],
    "elasticc2_gentypeofclassid": [
        ("id", INT, NN),
        ("classid", INT, NN),
        ("gentype", INT, NULL),
        ("description", T, NN),
    ],
    "elasticc2_classidofgentype": [
        ("id", INT, NN),
        ("gentype", INT, NN),
        ("classid", INT, NN),
        ("exactmatch", BOOL, NN),
        ("categorymatch", BOOL, NN),
        ("description", T, NN),
        ("broadmatch", BOOL, NN),
        ("generalmatch", BOOL, NN),
    ],
    "elasticc2_diaobjectoftarget": [
        ("id", B, NN),
        ("diaobject_id", B, NN),
        ("tomtarget_id", INT, NN),
    ],
    "elasticc2_diaobjectinfo": [
        ("_id", B, NN),
        ("filtername", T, NN),
        *_point("firstsource"),
        *_point("maxforcedsource"),
        *_point("latestsource"),
        *_point("latestforcedsource"),
        ("diaobject_id", B, NN),
    ],
    "elasticc2_diaobjectclassification": [
        ("_id", B, NN),
        ("latestclass1id", "smallint", NN),
        ("latestclass2id", "smallint", NULL),
        ("latestclass3id", "smallint", NULL),
        ("latestclass4id", "smallint", NULL),
        ("latestclass1prob", R, NN),
        ("latestclass2prob", R, NULL),
        ("latestclass3prob", R, NULL),
        ("latestclass4prob", R, NULL),
        ("classifier_id", B, NN),
        ("diaobject_id", B, NN),
    ],
    "elasticc2_spectruminfo": [
        ("specinfo_id", INT, NN),
        ("facility", T, NULL),
        ("inserted_at", TS, NN),
        ("mjd", R, NN),
        ("z", R, NULL),
        ("classid", INT, NULL),
        ("diaobject_id", B, NN),
    ],
    "elasticc2_wantedspectra": [
        ("wantspec_id", T, NN),
        ("wanttime", TS, NN),
        ("requester", T, NULL),
        ("priority", INT, NN),
        ("diaobject_id", B, NN),
        ("user_id", INT, NN),
    ],
    "elasticc2_plannedspectra": [
        ("reqspec_id", INT, NN),
        ("facility", T, NN),
        ("created_at", TS, NN),
        ("plantime", TS, NULL),
        ("comment", T, NN),
        ("diaobject_id", B, NN),
    ],
}

PRIMARY_KEYS = {t: cols[0][0] for t, cols in EXPECTED.items()} | {
    "elasticc2_diaobjecttruth": "diaobject_id",
    "elasticc2_trainingdiaobjecttruth": "diaobject_id",
}
IDENTITY = {
    ("elasticc2_brokerclassifier", "classifier_id"),
    ("elasticc2_brokermessage", "brokermessage_id"),
    ("elasticc2_importppdbrunning", "id"),
    ("elasticc2_gentypeofclassid", "id"),
    ("elasticc2_classidofgentype", "id"),
    ("elasticc2_diaobjectoftarget", "id"),
    ("elasticc2_diaobjectinfo", "_id"),
    ("elasticc2_diaobjectclassification", "_id"),
    ("elasticc2_spectruminfo", "specinfo_id"),
    ("elasticc2_plannedspectra", "reqspec_id"),
}
# (table, column) -> (referenced table, referenced column). Not here, on purpose (documented in
# dbschema): wantedspectra.user_id -> auth_user (the local TOM's users live in their own schema)
# and diaobjectoftarget.tomtarget_id -> tom_targets_target (a TOM Toolkit table).
FOREIGN_KEYS = {
    **{
        (f"elasticc2_{f}{k}", "diaobject_id"): (f"elasticc2_{f}diaobject", "diaobject_id")
        for f in ("ppdb", "training", "")
        for k in ("diasource", "diaforcedsource")
    },
    **{
        (f"elasticc2_{f}alert", "diaobject_id"): (f"elasticc2_{f}diaobject", "diaobject_id")
        for f in ("ppdb", "training")
    },
    **{
        (f"elasticc2_{f}alert", "diasource_id"): (f"elasticc2_{f}diasource", "diasource_id")
        for f in ("ppdb", "training")
    },
    ("elasticc2_diaobjecttruth", "diaobject_id"): ("elasticc2_ppdbdiaobject", "diaobject_id"),
    ("elasticc2_trainingdiaobjecttruth", "diaobject_id"): (
        "elasticc2_trainingdiaobject",
        "diaobject_id",
    ),
    ("elasticc2_diaobjectoftarget", "diaobject_id"): ("elasticc2_diaobject", "diaobject_id"),
    ("elasticc2_diaobjectinfo", "diaobject_id"): ("elasticc2_diaobject", "diaobject_id"),
    ("elasticc2_diaobjectclassification", "classifier_id"): (
        "elasticc2_brokerclassifier",
        "classifier_id",
    ),
    ("elasticc2_diaobjectclassification", "diaobject_id"): ("elasticc2_diaobjectinfo", "_id"),
    ("elasticc2_spectruminfo", "diaobject_id"): ("elasticc2_diaobject", "diaobject_id"),
    ("elasticc2_wantedspectra", "diaobject_id"): ("elasticc2_diaobject", "diaobject_id"),
    ("elasticc2_plannedspectra", "diaobject_id"): ("elasticc2_diaobject", "diaobject_id"),
}
UNIQUE = {
    ("elasticc2_gentypeofclassid", ("gentype",)),
    ("elasticc2_diaobjectinfo", ("diaobject_id", "filtername")),
    ("elasticc2_diaobjectclassification", ("diaobject_id", "classifier_id")),
}
# single-column btree indexes marked "idx" in §5
INDEXED = {
    *[
        (f"elasticc2_{f}{k}", c)
        for f in ("ppdb", "training", "")
        for k in ("diasource", "diaforcedsource")
        for c in ("midpointtai", "diaobject_id")
    ],
    *[
        (f"elasticc2_{f}alert", c)
        for f in ("ppdb", "training")
        for c in ("alertsenttimestamp", "diaobject_id", "diasource_id")
    ],
    *[
        (t, c)
        for t in ("elasticc2_diaobjecttruth", "elasticc2_trainingdiaobjecttruth")
        for c in (
            "gentype",
            "sim_template_index",
            "zcmb",
            "zhelio",
            "peakmjd",
            "mjd_detect_first",
            "mjd_detect_last",
        )
    ],
    ("elasticc2_brokerclassifier", "brokername"),
    *[
        ("elasticc2_brokermessage", c)
        for c in ("alert_id", "diasource_id", "descingesttimestamp", "classifier_id")
    ],
    ("elasticc2_gentypeofclassid", "classid"),
    ("elasticc2_gentypeofclassid", "gentype"),
    ("elasticc2_classidofgentype", "gentype"),
    ("elasticc2_classidofgentype", "classid"),
    ("elasticc2_diaobjectoftarget", "diaobject_id"),
    ("elasticc2_diaobjectoftarget", "tomtarget_id"),
    *[
        ("elasticc2_diaobjectinfo", c)
        for c in ("filtername", "firstsource_id", "firstsourcemjd", "latestsourcemjd")
    ],
    ("elasticc2_diaobjectinfo", "diaobject_id"),
    ("elasticc2_diaobjectclassification", "classifier_id"),
    ("elasticc2_diaobjectclassification", "diaobject_id"),
    ("elasticc2_spectruminfo", "mjd"),
    ("elasticc2_spectruminfo", "classid"),
    ("elasticc2_spectruminfo", "diaobject_id"),
    ("elasticc2_wantedspectra", "wanttime"),
    ("elasticc2_wantedspectra", "diaobject_id"),
    ("elasticc2_wantedspectra", "user_id"),
    ("elasticc2_plannedspectra", "diaobject_id"),
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A TOM database loaded from simulated objects and a simulated training set."""
    root: Path = tmp_path_factory.mktemp("tables")
    samples = [
        simulate_model(m, n, 5, snid_base=(i + 1) * 10_000_000)
        for i, (m, n) in enumerate({"SNIa-SALT3": 5, "SNII-NMF": 3, "RRL": 2}.items())
    ]
    training = [simulate_model("SNIa-SALT3", 3, 6, snid_base=90_000_000)]
    frames, _alerts = alerts_writer.tom_frames(samples, seed=3)
    with pg.embedded_server(root / "tomdb") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tom_desc")
        dburl = url.replace("/postgres?", "/tom_desc?")
        with psycopg.connect(dburl) as conn:
            counts = db.load(conn, frames, training=training)
        with psycopg.connect(dburl, autocommit=True) as conn:
            yield conn, counts, training


def _catalog_columns(conn, table):
    return conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (f"public.{table}",),
    ).fetchall()


def test_every_table_of_the_reference_exists(loaded):
    conn, _, _ = loaded
    got = {
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename LIKE 'elasticc2%%'"
        )
    }
    assert got == set(EXPECTED) and len(got) == 25


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_columns_in_physical_order_with_types_and_nullability(loaded, table):
    conn, _, _ = loaded
    assert _catalog_columns(conn, table) == [tuple(c) for c in EXPECTED[table]]


def test_only_identity_columns_have_defaults(loaded):
    conn, _, _ = loaded
    rows = conn.execute(
        "SELECT table_name, column_name, is_identity, column_default "
        "FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name LIKE 'elasticc2%%' AND (is_identity = 'YES' OR column_default IS NOT NULL)"
    ).fetchall()
    assert all(ident == "YES" and default is None for _, _, ident, default in rows)
    assert {(t, c) for t, c, _, _ in rows} == IDENTITY


def test_primary_keys(loaded):
    conn, _, _ = loaded
    got = dict(
        conn.execute(
            "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
            "WHERE c.contype = 'p' AND c.conrelid::regclass::text LIKE 'elasticc2%%'"
        ).fetchall()
    )
    assert got == PRIMARY_KEYS


def test_foreign_keys_are_deferrable_without_delete_action(loaded):
    conn, _, _ = loaded
    rows = conn.execute(
        """SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text,
                  fa.attname, c.condeferrable, c.condeferred, c.confdeltype
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
           WHERE c.contype = 'f' AND c.conrelid::regclass::text LIKE 'elasticc2%%'"""
    ).fetchall()
    assert {(t, c): (rt, rc) for t, c, rt, rc, *_ in rows} == FOREIGN_KEYS
    assert all(r[4] and r[5] and r[6] == "a" for r in rows)  # DEFERRABLE INITIALLY DEFERRED


def test_unique_constraints(loaded):
    conn, _, _ = loaded
    rows = conn.execute(
        """SELECT c.conrelid::regclass::text,
                  array_agg(a.attname ORDER BY array_position(c.conkey, a.attnum))
           FROM pg_constraint c JOIN pg_attribute a
             ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
           WHERE c.contype = 'u' AND c.conrelid::regclass::text LIKE 'elasticc2%%'
           GROUP BY c.oid, c.conrelid"""
    ).fetchall()
    assert {(t, tuple(cols)) for t, cols in rows} == UNIQUE
    name = conn.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'elasticc2_diaobjectinfo'::regclass "
        "AND contype = 'u'"
    ).fetchone()
    assert name == ("diaobjectinfo_unique",)


def test_indexes(loaded):
    conn, _, _ = loaded
    rows = conn.execute(
        """SELECT i.indrelid::regclass::text, a.attname, i.indnatts
           FROM pg_index i JOIN pg_attribute a
             ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
           WHERE i.indrelid::regclass::text LIKE 'elasticc2%%' AND NOT i.indisprimary"""
    ).fetchall()
    single = {(t, c) for t, c, n in rows if n == 1}
    assert single >= INDEXED
    # the four brokerclassifier indexes of the reference
    multi = conn.execute(
        "SELECT count(*) FROM pg_index WHERE indrelid = 'elasticc2_brokerclassifier'::regclass "
        "AND NOT indisprimary"
    ).fetchone()
    assert multi == (4,)
    # Django's pattern index on indexed text columns
    like = conn.execute(
        "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%%text_pattern_ops%%' "
        "AND tablename IN ('elasticc2_diaobjectinfo', 'elasticc2_wantedspectra')"
    ).fetchall()
    assert len(like) == 2 and all(n.endswith("_like") for (n,) in like)


def test_training_tables_hold_the_training_set(loaded):
    conn, counts, training = loaded
    nobj = sum(s.head.height for s in training)
    npts = sum(s.phot.height for s in training)
    ids = sorted(int(x) for s in training for x in s.head["SNID"].to_list())
    got = [r[0] for r in conn.execute("SELECT diaobject_id FROM elasticc2_trainingdiaobject")]
    assert sorted(got) == ids and nobj > 0
    assert conn.execute("SELECT count(*) FROM elasticc2_trainingdiaforcedsource").fetchone() == (
        npts,
    )
    truth = conn.execute("SELECT diaobject_id FROM elasticc2_trainingdiaobjecttruth").fetchall()
    assert sorted(r[0] for r in truth) == ids
    n_alert, n_sent = conn.execute(
        "SELECT count(*), count(alertsenttimestamp) FROM elasticc2_trainingalert"
    ).fetchone()
    assert n_alert == conn.execute("SELECT count(*) FROM elasticc2_trainingdiasource").fetchone()[0]
    assert n_alert > 0 and n_sent == 0
    assert counts["elasticc2_trainingdiaobject"] == nobj


def test_lock_row_and_empty_route_tables(loaded):
    conn, _, _ = loaded
    assert conn.execute("SELECT running FROM elasticc2_importppdbrunning").fetchall() == [(False,)]
    for t in (
        "elasticc2_spectruminfo",
        "elasticc2_wantedspectra",
        "elasticc2_plannedspectra",
        "elasticc2_diaobjectoftarget",
    ):
        assert conn.execute(f"SELECT count(*) FROM {t}").fetchone() == (0,)


def test_brokersourceids_are_the_classified_sources(loaded):
    conn, _, _ = loaded
    got = [r[0] for r in conn.execute("SELECT diasource_id FROM elasticc2_brokersourceids")]
    msgs = {r[0] for r in conn.execute("SELECT diasource_id FROM elasticc2_brokermessage")}
    assert sorted(got) == sorted(msgs) and got


def test_diaobjectinfo_recomputed(loaded):
    conn, _, _ = loaded
    src = conn.execute(
        "SELECT diaobject_id, filtername, diasource_id, psflux, psfluxerr, midpointtai "
        "FROM elasticc2_diasource"
    ).fetchall()
    forced = conn.execute(
        "SELECT diaobject_id, filtername, diaforcedsource_id, psflux, psfluxerr, midpointtai "
        "FROM elasticc2_diaforcedsource"
    ).fetchall()
    bykey: dict = defaultdict(lambda: {"s": [], "f": []})
    for r in src:
        bykey[r[0], r[1]]["s"].append(r[2:])
    for r in forced:
        bykey[r[0], r[1]]["f"].append(r[2:])

    def pick(points, key):
        if not points:
            return (None,) * 4
        best = min(points, key=key)
        return best[0], best[1], best[2], best[3]

    expected = {}
    for (obj, band), p in bykey.items():
        expected[obj, band] = (
            *pick(p["s"], lambda x: (x[3], x[0])),  # first source
            *pick(p["f"], lambda x: (-x[1], x[0])),  # brightest forced source
            *pick(p["s"], lambda x: (-x[3], x[0])),  # latest source
            *pick(p["f"], lambda x: (-x[3], x[0])),  # latest forced source
        )
    rows = conn.execute("SELECT * FROM elasticc2_diaobjectinfo").fetchall()
    got = {(r[-1], r[1]): tuple(r[2:-1]) for r in rows}
    assert got.keys() == expected.keys() and len(rows) == len(expected) > 0
    for key, values in expected.items():
        for g, e in zip(got[key], values, strict=True):
            assert (g is None and e is None) or math.isclose(g, e, rel_tol=1e-6)


def test_diaobjectclassification_recomputed(loaded):
    conn, _, _ = loaded
    msgs = conn.execute(
        "SELECT s.diaobject_id, s.filtername, m.classifier_id, m.descingesttimestamp, "
        "m.brokermessage_id, m.classid, m.probability FROM elasticc2_brokermessage m "
        "JOIN elasticc2_diasource s USING (diasource_id)"
    ).fetchall()
    latest = {}
    for obj, band, cfer, t, mid, cls, prob in msgs:
        key = (obj, cfer)
        if key not in latest or (t, mid) > latest[key][0]:
            latest[key] = ((t, mid), band, cls, prob)
    info = {
        (o, b): i
        for i, b, o in conn.execute(
            "SELECT _id, filtername, diaobject_id FROM elasticc2_diaobjectinfo"
        )
    }
    expected = {}
    for (obj, cfer), (_, band, cls, prob) in latest.items():
        top = sorted(zip(prob, cls, strict=True), key=lambda pc: (-pc[0], pc[1]))[:4]
        top += [(None, None)] * (4 - len(top))
        expected[info[obj, band], cfer] = (
            *[c for _, c in top],
            *[p for p, _ in top],
        )
    rows = conn.execute("SELECT * FROM elasticc2_diaobjectclassification").fetchall()
    got = {(r[10], r[9]): tuple(r[1:9]) for r in rows}
    assert got == expected and len(got) > 0
