"""``classids``, ``classifiers_json`` and ``brokerclassfortruetype`` (tom-fidelity §3.5–3.7).

The real TOM writes the first two with pandas ``to_json(orient='index')`` (compact JSON) and serves
the third from pickles that a management command precomputes; here the same frames are computed
from the database on request, with the real route's 400 errors.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

from django.http import HttpRequest, HttpResponse

from elasticc_tutorial.localtom.views_elasticc2.common import rows, tom_view


def compact_json(data: Any) -> HttpResponse:
    """pandas ``to_json`` output: no spaces, ``application/json`` without a charset."""
    return HttpResponse(
        json.dumps(data, separators=(",", ":")).encode(), content_type="application/json"
    )


@tom_view(["GET", "POST"], anonymous="login")
def classids(request: HttpRequest) -> HttpResponse:
    """``{"<classid>": {exactmatch, categorymatch, broadmatch, generalmatch, description, gentype}}``
    from ``elasticc2_classidofgentype`` (gentypes in table order) plus the classids found only in
    ``elasticc2_gentypeofclassid`` (no gentypes, every flag false); by numeric classid."""
    out: dict[int, dict[str, Any]] = {}
    for r in rows(
        """SELECT classid, exactmatch, categorymatch, broadmatch, generalmatch,
                  (array_agg(description ORDER BY id))[1] AS description,
                  array_agg(gentype ORDER BY id) AS gentype
           FROM elasticc2_classidofgentype
           GROUP BY classid, exactmatch, categorymatch, broadmatch, generalmatch"""
    ):
        out.setdefault(r.pop("classid"), r)
    for r in rows(
        "SELECT classid, (array_agg(description ORDER BY id))[1] AS description "
        "FROM elasticc2_gentypeofclassid GROUP BY classid"
    ):
        flags = dict.fromkeys(("exactmatch", "categorymatch", "broadmatch", "generalmatch"), False)
        out.setdefault(r["classid"], {**flags, "description": r["description"], "gentype": []})
    return compact_json({str(k): out[k] for k in sorted(out)})


@tom_view(["GET", "POST"], anonymous="login")
def classifiers_json(request: HttpRequest) -> HttpResponse:
    """``{"<classifier_id>": {brokername, brokerversion, classifiername, classifierparams}}`` in
    table order (the real query has no ORDER BY)."""
    found = rows(
        "SELECT classifier_id, brokername, brokerversion, classifiername, classifierparams "
        "FROM elasticc2_brokerclassifier"
    )
    return compact_json({str(r.pop("classifier_id")): r for r in found})


#: ``what`` -> the real TOM's pickle suffix.
WHATS = {
    "objects": "objdf",
    "sources": "srcdf",
    "classifications": "cifydf",
    "meanprobabilities": "classprobdf",
    "maxprobabilities": "maxprobdf",
}

# truth ⋈ elasticc2_ppdbdiasource ⋈ the latest message (by descingesttimestamp) per source, for
# the gentypes of one leaf class; relday = floor(midpointtai − peakmjd) in −20..90.
_SQL = """
WITH truth AS (
    SELECT diaobject_id, zcmb, peakmjd, gentype FROM elasticc2_diaobjecttruth
    WHERE gentype IN (SELECT gentype FROM elasticc2_classidofgentype
                      WHERE classid = %(classid)s AND exactmatch)),
latest AS (
    SELECT DISTINCT ON (m.diasource_id) m.diasource_id, m.classid, m.probability
    FROM elasticc2_brokermessage m WHERE m.classifier_id = %(cfer)s
    ORDER BY m.diasource_id, m.descingesttimestamp DESC, m.brokermessage_id DESC)
SELECT s.diasource_id, s.diaobject_id, s.midpointtai, s.midpointtai - t.peakmjd AS deltat,
       floor(s.midpointtai - t.peakmjd)::int AS relday, s.filtername, s.psflux, s.snr,
       t.zcmb, t.peakmjd, t.gentype, l.classid, l.probability
FROM elasticc2_ppdbdiasource s
JOIN truth t ON t.diaobject_id = s.diaobject_id
JOIN latest l ON l.diasource_id = s.diasource_id
WHERE floor(s.midpointtai - t.peakmjd) BETWEEN -20 AND 90
ORDER BY s.diasource_id"""


def confusion_frame(what: str, classifier_id: int, classid: int):
    """The pandas object the real TOM pickles for (classifier, true class): a DataFrame (a Series
    for ``maxprobabilities``)."""
    import pandas as pd

    src = pd.DataFrame(rows(_SQL, {"classid": classid, "cfer": classifier_id}))
    if src.empty:
        src = pd.DataFrame(
            columns=[
                "diasource_id",
                "diaobject_id",
                "midpointtai",
                "deltat",
                "relday",
                "filtername",
                "psflux",
                "snr",
                "zcmb",
                "peakmjd",
                "gentype",
                "classid",
                "probability",
            ]
        )
    src = src.rename(
        columns={
            c: f"s.{c}"
            for c in ("diasource_id", "diaobject_id", "midpointtai", "filtername", "psflux", "snr")
        }
        | {c: f"t.{c}" for c in ("zcmb", "peakmjd", "gentype")}
    )
    if what == "objects":
        obj = src.drop_duplicates("s.diaobject_id").sort_values("s.diaobject_id")
        return obj.set_index("s.diaobject_id")[["t.zcmb", "t.peakmjd", "t.gentype"]]
    if what == "sources":
        cols = ["s.diaobject_id", "s.midpointtai", "deltat", "relday", "s.filtername"]
        return src.set_index("s.diasource_id")[[*cols, "s.psflux", "s.snr"]]
    cify = (
        src[["s.diasource_id", "relday", "classid", "probability"]]
        .explode(["classid", "probability"])
        .rename(columns={"classid": "m.classid", "probability": "m.probability"})
        .astype({"m.classid": "int64", "m.probability": "float64", "relday": "int64"})
        .sort_values(["s.diasource_id", "m.classid"])
    )
    if what == "classifications":
        return cify.set_index(["s.diasource_id", "m.classid"])[["relday", "m.probability"]]
    mean = cify.groupby(["relday", "m.classid"])[["m.probability"]].mean()
    if what == "meanprobabilities":
        return mean
    best = mean.reset_index().sort_values(
        ["relday", "m.probability", "m.classid"], ascending=[True, False, True]
    )
    return best.drop_duplicates("relday").set_index("relday")["m.classid"]


def _error(text: str) -> HttpResponse:
    return HttpResponse(json.dumps({"error": text}), status=400, content_type="application/json")


@tom_view(["GET", "POST"], anonymous="login")
def brokerclassfortruetype(
    request: HttpRequest, dataformat: str, what: str, classifier_id: int, classid: int
) -> HttpResponse:
    """One (classifier, true class) metric structure: ``pickle`` gives the pickled pandas object,
    any other ``dataformat`` its ``to_dict(orient='tight')`` as JSON."""
    if what not in WHATS:
        return _error(f"Unknown data structure: {what}")
    # The real TOM has a file for each classifier and each leaf class that has gentypes.
    exists = rows(
        "SELECT EXISTS (SELECT 1 FROM elasticc2_brokerclassifier WHERE classifier_id = %(c)s) "
        "AND EXISTS (SELECT 1 FROM elasticc2_classidofgentype WHERE classid = %(k)s "
        "AND exactmatch) AND %(k)s %% 10 <> 0 AS ok",
        {"c": classifier_id, "k": classid},
    )[0]["ok"]
    if not exists:
        return _error(f"Can't find data file for classifier {classifier_id}, class {classid}")
    frame = confusion_frame(what, classifier_id, classid)
    if dataformat == "pickle":
        return HttpResponse(pickle.dumps(frame), content_type="application/octet-stream")
    if what == "maxprobabilities":
        frame = frame.to_frame("m.classid")
    return HttpResponse(json.dumps(frame.to_dict(orient="tight")), content_type="application/json")
