"""The ``elasticc2/`` endpoints of the real TOM, computed from the sample database.

They read the ``elasticc2_*`` tables through the read-only role (the real TOM uses its Django DB user
for some of them). Conventions kept from the real TOM: JSON request bodies (GET or POST), HTTP 500
``text/plain`` "Exception in <View>: ..." for errors, ``{"status": "ok", ...}`` on success except for
``classids``, ``classifiers_json``, ``getalert`` and ``brokerclassfortruetype`` (bare data), and HTTP 400
with a JSON ``{"error": ...}`` for ``brokerclassfortruetype``. Unlike the real TOM, anonymous callers
always get 403 (the real one redirects ``classids``, ``classifiers_json`` and ``brokerclassfortruetype``
to the login page).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from elasticc_tutorial import photometry
from elasticc_tutorial.localtom.readonly import QueryError
from elasticc_tutorial.localtom.views_common import (
    RUNTIME,
    json_response,
    login_required_403,
    read_json_body,
    text_response,
)

ZP = 27.5  # the SNANA FLUXCAL zero point the real TOM hard-codes
BANDS = [b.lower() for b in photometry.BANDS]  # the database spells the Y band "y"
HOSTINFO = (
    [f"hostgal_mag_{b}" for b in BANDS]
    + [f"hostgal_magerr_{b}" for b in BANDS]
    + ["hostgal_ellipticity", "hostgal_sqradius", "hostgal_snsep"]
)


class BadRequest(Exception):
    """A user error in an elasticc2 request (reported as the real TOM does: HTTP 500 text)."""


def _rows(query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rows, _ = RUNTIME.ro.run([query], [params or {}])
    return rows


def _endpoint(view_name: str) -> Callable:
    """Login check, JSON body parsing and the real TOM's 500 ``Exception in <View>: msg`` errors."""

    def deco(func: Callable) -> Callable:
        @functools.wraps(func)
        @login_required_403
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in ("GET", "POST"):
                return text_response(f"405 Method Not Allowed: {request.method}", 405)
            try:
                data = read_json_body(request)
                if not isinstance(data, dict):
                    raise BadRequest("the request body must be a JSON object")
                return func(request, data, *args, **kwargs)
            except (BadRequest, QueryError, ValueError, TypeError) as exc:
                return text_response(f"Exception in {view_name}: {exc}", 500)

        return wrapper

    return deco


def _float(data: dict, key: str) -> float | None:
    if data.get(key) is None:
        return None
    try:
        value = float(data[key])
    except (TypeError, ValueError):
        raise BadRequest(f"{key} must be a number, not {data[key]!r}") from None
    if not math.isfinite(value):
        raise BadRequest(f"{key} must be finite")
    return value


def _int_list(value: Any, key: str) -> list[int]:
    items = value if isinstance(value, list) else [value]
    try:
        return [int(v) for v in items]
    except (TypeError, ValueError):
        raise BadRequest(f"{key} must be an integer or a list of integers") from None


def _return_format(data: dict) -> int:
    fmt = data.get("return_format", 0)
    if fmt not in (0, 1, 2):
        raise BadRequest(f"return_format must be 0, 1 or 2, not {fmt!r}")
    return fmt


def mjd_of_now() -> float:
    """The current MJD from the system clock (used when a request gives no ``mjd_now``)."""
    return time.time() / 86400.0 + 40587.0


def _lightcurves(
    where: str,
    params: dict[str, Any],
    *,
    mjd_now: float | None,
    hostinfo: bool,
    cte: str = "",
) -> list[dict[str, Any]]:
    """Objects (from elasticc2_diaobject) with their forced photometry, ordered by object and time."""
    host = "".join(f", o.{c}" for c in HOSTINFO) if hostinfo else ""
    tcut = "AND f.midpointtai <= %(mjd_now)s" if mjd_now is not None else ""
    rows = _rows(
        f"""{cte}
        SELECT o.diaobject_id, o.ra, o.decl{host},
               f.midpointtai, f.filtername, f.psflux, f.psfluxerr
        FROM elasticc2_diaforcedsource f
        JOIN elasticc2_diaobject o ON o.diaobject_id = f.diaobject_id
        WHERE {where} {tcut}
        ORDER BY o.diaobject_id, f.midpointtai""",
        {**params, "mjd_now": mjd_now},
    )
    objects: list[dict[str, Any]] = []
    for r in rows:
        if not objects or objects[-1]["objectid"] != r["diaobject_id"]:
            obj = {"objectid": r["diaobject_id"], "ra": r["ra"], "dec": r["decl"]}
            if hostinfo:
                obj.update((c, r[c]) for c in HOSTINFO)
            obj.update(mjd=[], band=[], flux=[], fluxerr=[])
            objects.append(obj)
        obj = objects[-1]
        obj["mjd"].append(r["midpointtai"])
        obj["band"].append(r["filtername"])
        obj["flux"].append(r["psflux"])
        obj["fluxerr"].append(r["psfluxerr"])
    return objects


def _shape(objects: list[dict[str, Any]], fmt: int, extra: dict[str, Any]) -> Any:
    """The three ``return_format`` layouts of ltcv and gethottransients."""
    phot = ("mjd", "band", "flux", "fluxerr")
    out = []
    for obj in objects:
        head = {k: v for k, v in obj.items() if k not in phot}
        lc = {k: obj[k] for k in phot}
        if fmt == 0:
            out.append({**head, "zp": ZP, **extra, "photometry": lc})
        else:
            out.append({**head, **lc, "zp": ZP, **extra})
    if fmt != 2:
        return out
    keys = list(out[0]) if out else ["objectid", "ra", "dec", *phot, "zp", *extra]
    return {k: [o[k] for o in out] for k in keys}


@_endpoint("LtcvsView")
def ltcv(request: HttpRequest, data: dict) -> HttpResponse:
    """Light curves of given objects: ``objectid`` or ``objectids`` (not both), optional ``mjd_now``,
    ``return_format`` 0/1/2, ``include_hostinfo``. Documented-but-broken in the real TOM and working
    here: ``return_format`` 1 (the real one raises a KeyError)."""
    allowed = {"objectid", "objectids", "mjd_now", "return_format", "include_hostinfo"}
    if unknown := set(data) - allowed:
        raise BadRequest(f"Unknown parameters: {unknown}")
    if ("objectid" in data) == ("objectids" in data):
        raise BadRequest("Must give exactly one of objectid or objectids")
    ids = _int_list(data.get("objectid", data.get("objectids")), "objectid")
    if not ids:
        raise BadRequest("no object ids given")
    objects = _lightcurves(
        "o.diaobject_id IN %(ids)s",
        {"ids": ids},
        mjd_now=_float(data, "mjd_now"),
        hostinfo=bool(data.get("include_hostinfo")),
    )
    return json_response({"status": "ok", "diaobject": _shape(objects, _return_format(data), {})})


@_endpoint("GetHotSNeView")
def gethottransients(request: HttpRequest, data: dict) -> HttpResponse:
    """Objects with a DiaSource in [t0, mjd_now] and all their forced photometry up to ``mjd_now``.

    ``detected_since_mjd`` or ``detected_in_last_days`` (default 30; both is an error), ``mjd_now``
    (default: today), ``return_format`` 0/1/2, ``include_hostinfo``, ``cheat_gentypes`` (a list of
    SNANA gentypes, selected from the truth table). ``redshift`` and ``sncode`` are -99 placeholders,
    as in the real TOM.
    """
    allowed = {
        "detected_since_mjd",
        "detected_in_last_days",
        "mjd_now",
        "return_format",
        "include_hostinfo",
        "cheat_gentypes",
    }
    if unknown := set(data) - allowed:
        raise BadRequest(f"Error, unknown parameters passed in request body: {sorted(unknown)}")
    if "detected_since_mjd" in data and "detected_in_last_days" in data:
        raise BadRequest("Error, can't give both detected_since_mjd and detected_in_last_days")
    mjd_now = _float(data, "mjd_now")
    now = mjd_now if mjd_now is not None else mjd_of_now()
    if "detected_since_mjd" in data:
        t0 = _float(data, "detected_since_mjd")
    else:
        days = _float(data, "detected_in_last_days")
        t0 = now - (30.0 if days is None else days)
    params: dict[str, Any] = {"t0": t0, "t1": now}
    cheat = ""
    if data.get("cheat_gentypes"):
        params["gentypes"] = _int_list(data["cheat_gentypes"], "cheat_gentypes")
        cheat = (
            "AND s.diaobject_id IN (SELECT diaobject_id FROM elasticc2_diaobjecttruth "
            "WHERE gentype IN %(gentypes)s)"
        )
    cte = f"""WITH hot AS (
        SELECT DISTINCT s.diaobject_id FROM elasticc2_diasource s
        WHERE s.midpointtai >= %(t0)s AND s.midpointtai <= %(t1)s {cheat})"""
    objects = _lightcurves(
        "o.diaobject_id IN (SELECT diaobject_id FROM hot)",
        params,
        mjd_now=now,
        hostinfo=bool(data.get("include_hostinfo")),
        cte=cte,
    )
    diaobject = _shape(objects, _return_format(data), {"redshift": -99, "sncode": -99})
    return json_response({"status": "ok", "diaobject": diaobject})


@_endpoint("GetAlert")
def getalert(request: HttpRequest, data: dict) -> HttpResponse:
    """Rebuild an alert from the PPDB tables: ``alertid`` or ``sourceid``; previous sources and forced
    sources from the 365 days before the triggering source."""
    if data.get("alertid") is not None:
        alerts = _rows(
            "SELECT alert_id, diasource_id FROM elasticc2_ppdbalert WHERE alert_id = %(id)s",
            {"id": _int_list(data["alertid"], "alertid")[0]},
        )
        if not alerts:
            raise BadRequest("PPDBAlert matching query does not exist.")
        alert_id, source_id = alerts[0]["alert_id"], alerts[0]["diasource_id"]
    elif data.get("sourceid") is not None:
        source_id = _int_list(data["sourceid"], "sourceid")[0]
        alerts = _rows(
            "SELECT alert_id FROM elasticc2_ppdbalert WHERE diasource_id = %(id)s "
            "ORDER BY alert_id LIMIT 1",
            {"id": source_id},
        )
        alert_id = alerts[0]["alert_id"] if alerts else None
    else:
        raise BadRequest("Must supply either alertid or sourceid")
    src = _rows(
        "SELECT * FROM elasticc2_ppdbdiasource WHERE diasource_id = %(id)s", {"id": source_id}
    )
    if not src:
        raise BadRequest(f"Unknown sourceid {source_id}")
    s = src[0]
    window = {"obj": s["diaobject_id"], "t": s["midpointtai"], "t0": s["midpointtai"] - 365.0}

    def source(r: dict) -> dict:
        return {
            "diaSourceId": r["diasource_id"],
            "diaObjectId": r["diaobject_id"],
            "midPointTai": r["midpointtai"],
            "filterName": r["filtername"],
            "ra": r["ra"],
            "decl": r["decl"],
            "psFlux": r["psflux"],
            "psFluxErr": r["psfluxerr"],
            "snr": r["snr"],
        }

    prv = _rows(
        "SELECT * FROM elasticc2_ppdbdiasource WHERE diaobject_id = %(obj)s "
        "AND midpointtai < %(t)s AND midpointtai >= %(t0)s ORDER BY midpointtai",
        window,
    )
    forced = _rows(
        "SELECT * FROM elasticc2_ppdbdiaforcedsource WHERE diaobject_id = %(obj)s "
        "AND midpointtai < %(t)s AND midpointtai >= %(t0)s ORDER BY midpointtai",
        window,
    )
    objs = _rows("SELECT * FROM elasticc2_ppdbdiaobject WHERE diaobject_id = %(obj)s", window)
    obj = objs[0] if objs else {}
    dia_object = {
        "diaObjectId": obj.get("diaobject_id"),
        "simVersion": obj.get("simversion"),
        "ra": obj.get("ra"),
        "decl": obj.get("decl"),
        **{k: obj.get(k) for k in ("mwebv", "mwebv_err", "z_final", "z_final_err")},
        **{k: v for k, v in obj.items() if k.startswith(("hostgal_", "hostgal2_"))},
    }
    return json_response(
        {
            "alertId": alert_id,
            "diaSource": source(s),
            "prvDiaSources": [source(r) for r in prv],
            "prvDiaForcedSources": [
                {
                    "diaForcedSourceId": r["diaforcedsource_id"],
                    "diaObjectId": r["diaobject_id"],
                    "midPointTai": r["midpointtai"],
                    "filterName": r["filtername"],
                    "psFlux": r["psflux"],
                    "psFluxErr": r["psfluxerr"],
                }
                for r in forced
            ],
            "diaObject": dia_object,
        }
    )


@_endpoint("Elasticc2ClassIds")
def classids(request: HttpRequest, data: dict) -> HttpResponse:
    """``{"<classid>": {exactmatch, categorymatch, broadmatch, generalmatch, description, gentype}}``
    from ``elasticc2_classidofgentype`` plus the classIds found only in ``elasticc2_gentypeofclassid``."""
    grouped = _rows(
        """SELECT c.classid, c.exactmatch, c.categorymatch, c.broadmatch, c.generalmatch,
                  array_agg(c.gentype ORDER BY c.gentype) AS gentype,
                  (SELECT min(g.description) FROM elasticc2_gentypeofclassid g
                   WHERE g.classid = c.classid) AS gdesc,
                  min(c.description) AS cdesc
           FROM elasticc2_classidofgentype c
           GROUP BY c.classid, c.exactmatch, c.categorymatch, c.broadmatch, c.generalmatch
           ORDER BY c.classid"""
    )
    out: dict[str, Any] = {}
    for r in grouped:
        out[str(r["classid"])] = {
            "exactmatch": r["exactmatch"],
            "categorymatch": r["categorymatch"],
            "broadmatch": r["broadmatch"],
            "generalmatch": r["generalmatch"],
            "description": r["gdesc"] or r["cdesc"],
            "gentype": r["gentype"],
        }
    for r in _rows(
        "SELECT classid, min(description) AS description FROM elasticc2_gentypeofclassid "
        "GROUP BY classid ORDER BY classid"
    ):
        out.setdefault(
            str(r["classid"]),
            {
                "exactmatch": False,
                "categorymatch": False,
                "broadmatch": False,
                "generalmatch": False,
                "description": r["description"],
                "gentype": [],
            },
        )
    return json_response(dict(sorted(out.items(), key=lambda kv: int(kv[0]))))


@_endpoint("Elasticc2ClassifiersJson")
def classifiers_json(request: HttpRequest, data: dict) -> HttpResponse:
    """``{"<classifier_id>": {brokername, brokerversion, classifiername, classifierparams}}``."""
    rows = _rows(
        "SELECT classifier_id, brokername, brokerversion, classifiername, classifierparams "
        "FROM elasticc2_brokerclassifier ORDER BY classifier_id"
    )
    return json_response({str(r.pop("classifier_id")): r for r in rows})


WHATS = ("objects", "sources", "classifications", "meanprobabilities", "maxprobabilities")

_CONFUSION_CTE = """
WITH truth AS (
    SELECT diaobject_id, zcmb, peakmjd, gentype FROM elasticc2_diaobjecttruth
    WHERE gentype IN (SELECT gentype FROM elasticc2_classidofgentype
                      WHERE classid = %(classid)s AND exactmatch)),
latest AS (
    SELECT DISTINCT ON (m.diasource_id) m.diasource_id, m.classid, m.probability
    FROM elasticc2_brokermessage m WHERE m.classifier_id = %(cfer)s
    ORDER BY m.diasource_id, m.descingesttimestamp DESC, m.brokermessage_id DESC),
src AS (
    SELECT s.diasource_id, s.diaobject_id, s.midpointtai, s.midpointtai - t.peakmjd AS deltat,
           round(s.midpointtai - t.peakmjd)::int AS relday, s.filtername, s.psflux, s.snr
    FROM elasticc2_ppdbdiasource s
    JOIN truth t ON t.diaobject_id = s.diaobject_id
    JOIN latest l ON l.diasource_id = s.diasource_id
    WHERE round(s.midpointtai - t.peakmjd) BETWEEN -20 AND 90),
cify AS (
    SELECT src.diasource_id, src.relday, u.classid, u.probability
    FROM src JOIN latest l ON l.diasource_id = src.diasource_id,
         unnest(l.classid, l.probability) AS u(classid, probability))
"""

_CONFUSION_SQL = {
    "objects": (
        'SELECT t.diaobject_id AS "s.diaobject_id", t.zcmb AS "t.zcmb", t.peakmjd AS "t.peakmjd", '
        't.gentype AS "t.gentype" FROM truth t '
        "WHERE t.diaobject_id IN (SELECT diaobject_id FROM src) ORDER BY t.diaobject_id",
        1,
    ),
    "sources": (
        'SELECT diasource_id AS "s.diasource_id", diaobject_id AS "s.diaobject_id", '
        'midpointtai AS "s.midpointtai", deltat, relday, filtername AS "s.filtername", '
        'psflux AS "s.psflux", snr AS "s.snr" FROM src ORDER BY diasource_id',
        1,
    ),
    "classifications": (
        'SELECT diasource_id AS "s.diasource_id", classid AS "m.classid", relday, '
        'probability AS "m.probability" FROM cify ORDER BY diasource_id, classid',
        2,
    ),
    "meanprobabilities": (
        'SELECT relday, classid AS "m.classid", avg(probability)::real AS "m.probability" '
        "FROM cify GROUP BY relday, classid ORDER BY relday, classid",
        2,
    ),
    "maxprobabilities": (
        'SELECT DISTINCT ON (relday) relday, classid AS "m.classid" FROM '
        "(SELECT relday, classid, avg(probability) AS p FROM cify GROUP BY relday, classid) a "
        "ORDER BY relday, p DESC, classid",
        1,
    ),
}


def brokerclassfortruetype(
    request: HttpRequest, dataformat: str, what: str, classifier_id: int, classid: int
) -> HttpResponse:
    """Per-classifier metric frames for one true class, computed from the database (the real TOM
    serves pickles precomputed offline). Returns pandas ``to_dict(orient='tight')`` JSON
    (``index, columns, data, index_names, column_names``); ``pickle`` needs pandas on the server.
    Errors: HTTP 400 with JSON ``{"error": ...}``, as in the real TOM."""
    if not request.user.is_authenticated:
        return text_response("403 Forbidden: log in first (accounts/login/)", 403)
    if request.method not in ("GET", "POST"):
        return text_response(f"405 Method Not Allowed: {request.method}", 405)
    if what not in WHATS:
        return json_response({"error": f"Unknown what {what!r}; expected one of {WHATS}"}, 400)
    if classid % 10 == 0:
        return json_response({"error": f"classid {classid} is not a leaf class"}, 400)
    try:
        known = _rows(
            "SELECT 1 FROM elasticc2_brokerclassifier WHERE classifier_id = %(c)s",
            {"c": classifier_id},
        )
        if not known:
            return json_response({"error": f"Unknown classifier_id {classifier_id}"}, 400)
        query, nindex = _CONFUSION_SQL[what]
        rows, cols = RUNTIME.ro.run(
            [_CONFUSION_CTE + query], [{"classid": classid, "cfer": classifier_id}]
        )
    except QueryError as exc:
        return json_response({"error": str(exc)}, 400)
    names = [c["name"] for c in cols]
    index_names, columns = names[:nindex], names[nindex:]
    if dataformat == "pickle":
        try:
            import pickle

            import pandas
        except ImportError:
            return json_response({"error": "dataformat 'pickle' needs pandas on the server"}, 400)
        frame = pandas.DataFrame.from_records(rows, columns=names).set_index(index_names)
        return HttpResponse(pickle.dumps(frame), content_type="application/octet-stream")

    def idx(r: dict) -> Any:
        return r[index_names[0]] if nindex == 1 else [r[n] for n in index_names]

    return json_response(
        {
            "index": [idx(r) for r in rows],
            "columns": columns,
            "data": [[r[c] for c in columns] for r in rows],
            "index_names": index_names,
            "column_names": [None],
        }
    )


@login_required_403
def ppdbdiaobject(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Read-only, paginated PPDB objects in Django REST framework's shape: a list is
    ``{count, next, previous, results}`` with ``?limit=&offset=`` (default limit 100), a detail call
    is the object or 404 ``{"detail": "Not found."}``; POST is 405, as for a DRF read-only viewset."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return json_response({"detail": f'Method "{request.method}" not allowed.'}, 405)
    try:
        if pk is not None:
            rows = _rows(
                "SELECT * FROM elasticc2_ppdbdiaobject WHERE diaobject_id = %(pk)s", {"pk": pk}
            )
            if not rows:
                return json_response({"detail": "Not found."}, 404)
            return json_response(rows[0])
        try:
            limit = int(request.GET.get("limit", 100))
            offset = int(request.GET.get("offset", 0))
        except ValueError:
            return json_response({"detail": "limit and offset must be integers"}, 400)
        limit = max(1, min(limit, 10_000))
        offset = max(0, offset)
        count = _rows("SELECT count(*) AS n FROM elasticc2_ppdbdiaobject")[0]["n"]
        rows = _rows(
            "SELECT * FROM elasticc2_ppdbdiaobject ORDER BY diaobject_id LIMIT %(l)s OFFSET %(o)s",
            {"l": limit, "o": offset},
        )
    except QueryError as exc:
        return json_response({"detail": str(exc)}, 400)

    def page(off: int) -> str:
        return request.build_absolute_uri(f"{request.path}?limit={limit}&offset={off}")

    return json_response(
        {
            "count": count,
            "next": page(offset + limit) if offset + limit < count else None,
            "previous": page(max(0, offset - limit)) if offset > 0 else None,
            "results": rows,
        }
    )
