"""The ``elasticc2_*`` tables the DESC TOM derives from its other tables: SQL that
:func:`elasticc_tutorial.sample.db.load` runs after the COPY (for each table not given as a frame).
"""

from __future__ import annotations

__all__ = ["DERIVED_SQL"]

# Tables the TOM fills from its other tables; computed by SQL after the load (each one only when
# ``frames`` does not give it). The rules where the TOM's code leaves a choice:
# * diaobjectinfo: per (object, band) of elasticc2_diasource/diaforcedsource, the first and latest
#   source, the brightest forced source and the latest forced source (ties: lowest id);
# * diaobjectclassification: per (object, classifier), the top four classes of the latest message
#   (descingesttimestamp, then brokermessage_id), attached to the diaobjectinfo row of the band of
#   that message's source (the TOM's FK names a diaobjectinfo row, not an object);
# * brokersourceids: every source some broker classified (the nightly import would empty it);
# * importppdbrunning: the one lock row, not running.
_POINT_SQL = """{name} AS (SELECT DISTINCT ON (diaobject_id, filtername) diaobject_id, filtername,
    {idcol} AS id, psflux, psfluxerr, midpointtai FROM {table} WHERE diaobject_id IS NOT NULL
    ORDER BY diaobject_id, filtername, {order}, {idcol})"""
DERIVED_SQL = {
    "elasticc2_diaobjectinfo": "WITH keys AS (SELECT diaobject_id, filtername FROM "
    "elasticc2_diaforcedsource UNION SELECT diaobject_id, filtername FROM elasticc2_diasource "
    "WHERE diaobject_id IS NOT NULL), "
    + ", ".join(
        _POINT_SQL.format(name=n, table=f"elasticc2_{t}", idcol=f"{t}_id", order=o)
        for n, t, o in (
            ("fs", "diasource", "midpointtai"),
            ("mf", "diaforcedsource", "psflux DESC"),
            ("ls", "diasource", "midpointtai DESC"),
            ("lf", "diaforcedsource", "midpointtai DESC"),
        )
    )
    + """ INSERT INTO elasticc2_diaobjectinfo (filtername, firstsource_id, firstsourceflux,
    firstsourcefluxerr, firstsourcemjd, maxforcedsource_id, maxforcedsourceflux,
    maxforcedsourcefluxerr, maxforcedsourcemjd, latestsource_id, latestsourceflux,
    latestsourcefluxerr, latestsourcemjd, latestforcedsource_id, latestforcedsourceflux,
    latestforcedsourcefluxerr, latestforcedsourcemjd, diaobject_id)
    SELECT k.filtername, fs.id, fs.psflux, fs.psfluxerr, fs.midpointtai,
        mf.id, mf.psflux, mf.psfluxerr, mf.midpointtai, ls.id, ls.psflux, ls.psfluxerr,
        ls.midpointtai, lf.id, lf.psflux, lf.psfluxerr, lf.midpointtai, k.diaobject_id
    FROM keys k LEFT JOIN fs USING (diaobject_id, filtername) LEFT JOIN mf USING (diaobject_id,
    filtername) LEFT JOIN ls USING (diaobject_id, filtername) LEFT JOIN lf USING (diaobject_id,
    filtername) ORDER BY k.diaobject_id, k.filtername""",
    "elasticc2_diaobjectclassification": """WITH latest AS (
        SELECT DISTINCT ON (s.diaobject_id, m.classifier_id) s.diaobject_id, s.filtername,
            m.classifier_id, m.classid, m.probability
        FROM elasticc2_brokermessage m JOIN elasticc2_diasource s USING (diasource_id)
        WHERE s.diaobject_id IS NOT NULL
        ORDER BY s.diaobject_id, m.classifier_id, m.descingesttimestamp DESC,
            m.brokermessage_id DESC),
    ranked AS (SELECT l.diaobject_id, l.filtername, l.classifier_id, u.c, u.p,
        row_number() OVER (PARTITION BY l.diaobject_id, l.classifier_id
                           ORDER BY u.p DESC, u.c) AS r
        FROM latest l, unnest(l.classid, l.probability) AS u(c, p))
    INSERT INTO elasticc2_diaobjectclassification (latestclass1id, latestclass2id,
        latestclass3id, latestclass4id, latestclass1prob, latestclass2prob, latestclass3prob,
        latestclass4prob, classifier_id, diaobject_id)
    SELECT max(c) FILTER (WHERE r = 1), max(c) FILTER (WHERE r = 2), max(c) FILTER (WHERE r = 3),
        max(c) FILTER (WHERE r = 4), max(p) FILTER (WHERE r = 1), max(p) FILTER (WHERE r = 2),
        max(p) FILTER (WHERE r = 3), max(p) FILTER (WHERE r = 4), ranked.classifier_id, i._id
    FROM ranked JOIN elasticc2_diaobjectinfo i USING (diaobject_id, filtername)
    GROUP BY i._id, ranked.classifier_id HAVING count(*) FILTER (WHERE r = 1) > 0
    ORDER BY i._id, ranked.classifier_id""",
    "elasticc2_brokersourceids": "INSERT INTO elasticc2_brokersourceids (diasource_id) "
    "SELECT DISTINCT diasource_id FROM elasticc2_brokermessage ORDER BY diasource_id",
    "elasticc2_importppdbrunning": "INSERT INTO elasticc2_importppdbrunning (running) "
    "VALUES (false)",
}
