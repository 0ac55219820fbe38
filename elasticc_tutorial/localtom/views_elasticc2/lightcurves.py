"""``ltcv``, ``gethottransients``, ``getalert`` and ``ltcvfeatures`` (tom-fidelity §3.1–3.4), with the
real views' parameter checks, key orders and error texts, including the documented bugs: ``ltcv``
format 1 fails with ``'mjd'``, gethottransients format 1 nests ``mjd`` one level deeper, and only
gethottransients carries the −99 ``redshift``/``sncode`` placeholders.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.http import HttpRequest, HttpResponse

from elasticc_tutorial import photometry
from elasticc_tutorial.localtom.views_elasticc2.common import (
    PlainError,
    ViewError,
    json_response,
    rows,
)
from elasticc_tutorial.localtom.views_elasticc2.common import tom_view as _view

_BANDS = [b.lower() for b in photometry.BANDS]  # the database spells the Y band "y"
HOSTINFO = [
    *[c for b in _BANDS for c in (f"hostgal_mag_{b}", f"hostgal_magerr_{b}")],
    "hostgal_ellipticity",
    "hostgal_sqradius",
    "hostgal_snsep",
]
_PHOT = ("mjd", "band", "flux", "fluxerr")


def mjd_of_now() -> float:
    """The current MJD from the system clock (used when a request gives no ``mjd_now``)."""
    return time.time() / 86400.0 + 40587.0


def _id_list(ids: list) -> str:
    """``IN`` list text of integers (each ``int()``-ed, so nothing else reaches the SQL); an empty
    list gives ``()``, which PostgreSQL rejects, as in the real TOM."""
    return ", ".join(str(int(i)) for i in ids)


def _lightcurves(where: str, params: dict, *, t1: float | None, hostinfo: bool) -> list[dict]:
    """Objects of elasticc2_diaobject with their elasticc2_diaforcedsource points, by object, time."""
    host = "".join(f", o.{c}" for c in HOSTINFO) if hostinfo else ""
    tcut = "AND f.midpointtai <= %(t1)s" if t1 is not None else ""
    found = rows(
        f"""SELECT o.diaobject_id, o.ra, o.decl{host},
                   f.midpointtai, f.filtername, f.psflux, f.psfluxerr
            FROM elasticc2_diaforcedsource f
            INNER JOIN elasticc2_diaobject o ON o.diaobject_id = f.diaobject_id
            WHERE {where} {tcut}
            ORDER BY o.diaobject_id, f.midpointtai""",
        {**params, "t1": t1},
    )
    if hostinfo:  # values pass through a pandas frame: NULL is NaN unless the whole column is null
        for c in HOSTINFO:
            if any(r[c] is not None for r in found):
                for r in found:
                    if r[c] is None:
                        r[c] = math.nan
    objects: list[dict[str, Any]] = []
    for r in found:
        if not objects or objects[-1]["objectid"] != r["diaobject_id"]:
            obj = {"objectid": r["diaobject_id"], "ra": r["ra"], "dec": r["decl"]}
            obj["host"] = {c: r[c] for c in HOSTINFO} if hostinfo else {}
            obj.update({k: [] for k in _PHOT})
            objects.append(obj)
        for k, c in zip(_PHOT, ("midpointtai", "filtername", "psflux", "psfluxerr"), strict=True):
            objects[-1][k].append(r[c])
    return objects


def _shape(objects: list[dict], fmt: int, extra: dict[str, Any], *, hot: bool) -> Any:
    """The three ``return_format`` layouts (tom-api.md "Shape of diaobject")."""
    if fmt == 1 and objects and not hot:
        raise KeyError("mjd")  # ltcv reads columns its query does not produce
    out = []
    for o in objects:
        head = {"objectid": o["objectid"], "ra": o["ra"], "dec": o["dec"]}
        phot = {k: o[k] for k in _PHOT}
        if fmt == 0:
            out.append(
                {**head, "zp": photometry.ZP_FLUXCAL, **extra, **o["host"], "photometry": phot}
            )
        else:
            if fmt == 1:
                phot["mjd"] = [phot["mjd"]]  # the real code's trailing comma makes a 1-tuple
            out.append({**head, **phot, "zp": photometry.ZP_FLUXCAL, **extra, **o["host"]})
    if fmt != 2:
        return out
    keys = ["objectid", "ra", "dec", *_PHOT, "zp", *extra]
    keys += list(objects[0]["host"]) if objects else []
    return {k: [o[k] for o in out] for k in keys}


@_view(["GET", "POST"], view_name="LtcvsView")
def ltcv(request: HttpRequest, data: Any) -> HttpResponse:
    """Light curves (forced photometry) of known objects: ``objectid`` or ``objectids``,
    ``mjd_now``, ``return_format`` 0/1/2, ``include_hostinfo``."""
    allowed = {"objectid", "objectids", "mjd_now", "return_format", "include_hostinfo"}
    unknown = set(data.keys()) - allowed
    if unknown:
        raise ViewError(f"Unknown parameters: {unknown}")
    if "objectid" not in data and "objectids" not in data:
        raise ViewError("Must supply either objectid or objectids")
    if "objectid" in data and "objectids" in data:
        raise ViewError("Can't supply both objectid and objectids")
    ids = data.get("objectid", data.get("objectids"))
    ids = ids if isinstance(ids, list) else [ids]
    fmt = int(data.get("return_format", 0))
    if fmt not in (0, 1, 2):
        raise ViewError(f"Unknown return_format {fmt}")
    t1 = float(data["mjd_now"]) if data.get("mjd_now") is not None else None
    objects = _lightcurves(
        f"f.diaobject_id IN ({_id_list(ids)})",
        {},
        t1=t1,
        hostinfo=bool(data.get("include_hostinfo")),
    )
    return json_response({"status": "ok", "diaobject": _shape(objects, fmt, {}, hot=False)})


@_view(["GET", "POST"], view_name="GetHotSNeView")
def gethottransients(request: HttpRequest, data: Any) -> HttpResponse:
    """Objects with an elasticc2_diasource point in [t0, mjd_now] and all their forced photometry up
    to ``mjd_now``; ``cheat_gentypes`` selects by truth gentype."""
    data = dict(data)
    fmt = int(data.pop("return_format", 0))
    if fmt not in (0, 1, 2):
        raise PlainError(f"Error, unknown return_format {fmt}")
    if "detected_since_mjd" in data and "detected_in_last_days" in data:
        raise PlainError("Error, only give one of detected_since_mjd or detected_in_last_days")
    since = data.pop("detected_since_mjd", None)
    lastdays = float(data.pop("detected_in_last_days", 30))
    mjd_now = data.pop("mjd_now", None)
    mjd_now = float(mjd_now) if mjd_now is not None else None
    cheat = data.pop("cheat_gentypes", None)
    if cheat is not None and not isinstance(cheat, list):
        raise PlainError("Error, cheat_gentypes must be a list")
    hostinfo = bool(data.pop("include_hostinfo", False))
    if data:
        raise PlainError(f"Error, unknown parameters passed in request body: {list(data.keys())}")
    if since is not None:
        t0 = float(since)
    else:
        t0 = (mjd_now if mjd_now is not None else mjd_of_now()) - lastdays
    tcut = "AND s.midpointtai <= %(t1)s" if mjd_now is not None else ""
    hot = rows(
        f"SELECT DISTINCT s.diaobject_id FROM elasticc2_diasource s "
        f"WHERE s.midpointtai >= %(t0)s {tcut}",
        {"t0": t0, "t1": mjd_now},
    )
    ids = [r["diaobject_id"] for r in hot]
    if cheat == []:
        ids = ids or [0]  # the real query still runs; "gentype IN ()" is its syntax error
    if not ids:
        objects = []
    else:
        where = f"f.diaobject_id IN ({_id_list(ids)})"
        if cheat is not None:
            where += (
                " AND f.diaobject_id IN (SELECT diaobject_id FROM elasticc2_diaobjecttruth "
                f"WHERE gentype IN ({_id_list(cheat)}))"
            )
        objects = _lightcurves(where, {}, t1=mjd_now, hostinfo=hostinfo)
    diaobject = _shape(objects, fmt, {"redshift": -99, "sncode": -99}, hot=True)
    return json_response({"status": "ok", "diaobject": diaobject})


def _source(r: dict) -> dict:
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


def _alert_object(obj: dict) -> dict:
    out = {
        "diaObjectId": obj["diaobject_id"],
        "simVersion": obj["simversion"],
        **{k: obj[k] for k in ("ra", "decl", "mwebv", "mwebv_err", "z_final", "z_final_err")},
    }
    for p in ("hostgal", "hostgal2"):
        for col, val in obj.items():
            if col.startswith(p + "_"):
                key = col[len(p) + 1 :]
                if key.startswith(("mag_", "magerr_")) and key.endswith("_y"):
                    key = key[:-1] + "Y"  # the alert schema spells it mag_Y
                out[f"{p}_{key}"] = val
    return out


@_view(["GET", "POST"], view_name="GetAlert")
def getalert(request: HttpRequest, data: Any) -> HttpResponse:
    """Rebuild an alert from the PPDB tables: ``alertid`` (wins) or ``sourceid``."""
    if "alertid" in data:
        found = rows(
            "SELECT alert_id, diasource_id FROM elasticc2_ppdbalert WHERE alert_id = %(i)s",
            {"i": int(data["alertid"])},
        )
        if not found:
            raise ViewError("PPDBAlert matching query does not exist.")
    elif "sourceid" in data:
        found = rows(
            "SELECT alert_id, diasource_id FROM elasticc2_ppdbalert WHERE diasource_id = %(i)s "
            "ORDER BY alert_id LIMIT 1",
            {"i": int(data["sourceid"])},
        )
        if not found:
            raise ViewError(f"Unknown sourceid {data['sourceid']}")
    else:
        raise ViewError("Must supply either alertid or sourceid")
    alert_id, source_id = found[0]["alert_id"], found[0]["diasource_id"]
    s = rows("SELECT * FROM elasticc2_ppdbdiasource WHERE diasource_id = %(i)s", {"i": source_id})[
        0
    ]
    obj = rows(
        "SELECT * FROM elasticc2_ppdbdiaobject WHERE diaobject_id = %(o)s",
        {"o": s["diaobject_id"]},
    )[0]
    t = s["midpointtai"]
    prv = rows(
        "SELECT * FROM elasticc2_ppdbdiasource WHERE diaobject_id = %(o)s "
        "AND midpointtai >= %(t0)s AND midpointtai < %(t)s ORDER BY midpointtai",
        {"o": s["diaobject_id"], "t0": t - 365.0, "t": t},
    )
    first = rows(
        "SELECT min(midpointtai) AS m FROM elasticc2_ppdbdiasource WHERE diaobject_id = %(o)s",
        {"o": s["diaobject_id"]},
    )[0]["m"]
    forced = []
    if t - first > 0.5:  # forced photometry only after the first half day
        forced = rows(
            "SELECT * FROM elasticc2_ppdbdiaforcedsource WHERE diaobject_id = %(o)s "
            "AND midpointtai >= %(t0)s AND midpointtai < %(t)s ORDER BY midpointtai",
            {"o": s["diaobject_id"], "t0": max(t - 365.0, first - 30.0), "t": t},
        )
    return json_response(
        {
            "alertId": alert_id,
            "diaSource": _source(s),
            "prvDiaSources": [_source(r) for r in prv],
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
            "diaObject": _alert_object(obj),
        }
    )


#: The real TOM's feature set (light_curve's Extractor), in output order.
FEATURE_NAMES = [
    "anderson_darling_normal",
    "inter_percentile_range_5",
    "chi2",
    "stetson_K",
    "weighted_mean",
    "duration",
    "otsu_mean_diff",
    "otsu_std_lower",
    "otsu_std_upper",
    "otsu_lower_to_all_ratio",
    "linear_fit_slope",
    "linear_fit_slope_sigma",
    "linear_fit_reduced_chi2",
]


def _extractor():
    import light_curve as lc

    return lc.Extractor(
        lc.AndersonDarlingNormal(),
        lc.InterPercentileRange(0.05),
        lc.ReducedChi2(),
        lc.StetsonK(),
        lc.WeightedMean(),
        lc.Duration(),
        lc.OtsuSplit(),
        lc.LinearFit(),
    )


@_view(["GET", "POST"], view_name="LtcvFeatures")
def ltcvfeatures(request: HttpRequest, data: Any) -> HttpResponse:
    """light_curve features of an object's pooled PPDB forced photometry: ``objectid`` or
    ``sourceid`` (wins; points up to that source's time), ``through_mjd``, ``includeltcv``."""
    import numpy as np

    if "features" in data:
        raise ViewError("Passing feature list not yet implemented")
    params: dict[str, Any] = {}
    if "sourceid" in data:
        src = rows(
            "SELECT diaobject_id, midpointtai FROM elasticc2_ppdbdiasource "
            "WHERE diasource_id = %(i)s",
            {"i": int(data["sourceid"])},
        )
        if not src:
            raise ViewError(f"Unknown sourceid {data['sourceid']}")
        params = {"o": src[0]["diaobject_id"], "t": src[0]["midpointtai"]}
    elif "objectid" in data:
        params = {"o": int(data["objectid"]), "t": None}
    else:
        raise ViewError("Must supply either alertid or sourceid or objectid")
    if data.get("through_mjd") is not None:
        t = float(data["through_mjd"])
        params["t"] = t if params["t"] is None else min(t, params["t"])
    tcut = "AND midpointtai <= %(t)s" if params["t"] is not None else ""
    pts = rows(
        f"SELECT midpointtai, psflux, psfluxerr FROM elasticc2_ppdbdiaforcedsource "
        f"WHERE diaobject_id = %(o)s {tcut} ORDER BY midpointtai",
        params,
    )
    mjd = np.array([p["midpointtai"] for p in pts], dtype=np.float64)
    flux = np.array([p["psflux"] for p in pts], dtype=np.float64)
    dflux = np.array([p["psfluxerr"] for p in pts], dtype=np.float64)
    values = _extractor()(mjd, flux, dflux)
    out: dict[str, Any] = {n: float(v) for n, v in zip(FEATURE_NAMES, values, strict=True)}
    if data.get("includeltcv"):
        out["lightcurve"] = {"mjd": mjd.tolist(), "flux": flux.tolist(), "dflux": dflux.tolist()}
    return json_response(out)
