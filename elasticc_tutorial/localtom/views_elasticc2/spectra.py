"""The six spectrum routes (tom-fidelity §3.8): they write the spectrum tables of the TOM database
(``elasticc2_wantedspectra``, ``_plannedspectra``, ``_spectruminfo``) exactly as desc-tom does,
including its documented bugs: magnitudes with zero point 27 and float4 rounding, ``lim_mag`` failing
on a non-empty result, planspectrum's ``HttpRespose`` NameError for an unknown object, the literal
``{missingkeys}`` text, and getknownspectruminfo's ``mjd_min``/``mjd_max`` reading ``data['mjd']``.

spectrawanted's "latest" point per band is undefined in desc-tom (a DISTINCT ON without time
order); here it is the latest qualifying forced point (ties: lowest id), always.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from typing import Any

from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse

from elasticc_tutorial.localtom.conf import TOM_DB
from elasticc_tutorial.localtom.views_elasticc2.common import (
    PlainError,
    ViewError,
    json_response,
    rows,
    tom_view,
)

UTC = datetime.UTC
_SINCE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}:\d{2})?$")


def _now() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def _mjd_now() -> float:
    return time.time() / 86400.0 + 40587.0


def _execute(query: str, params: dict[str, Any]) -> int:
    with connections[TOM_DB].cursor() as cur:
        cur.execute(query, params)
        return cur.rowcount


@tom_view(["POST"], view_name="AskForSpectrum", body=False)
def askforspectrum(request: HttpRequest, _: Any) -> HttpResponse:
    """Upsert a wanted spectrum per object: ``requester``, ``objectids``, ``priorities``."""
    try:
        data = json.loads(request.body)
    except ValueError as exc:  # outside the real view's try: a bare server error
        raise PlainError(f"Server Error (500): {exc}") from None
    ok = (
        isinstance(data, dict)
        and {"requester", "objectids", "priorities"} <= data.keys()
        and isinstance(data["objectids"], list)
        and isinstance(data["priorities"], list)
        and len(data["objectids"]) == len(data["priorities"])
    )
    if not ok:
        raise PlainError("Mal-formed data for askforspectrum")
    try:
        prios = [min(max(int(p), 0), 5) for p in data["priorities"]]
    except (TypeError, ValueError) as exc:  # also outside the real try
        raise PlainError(f"Server Error (500): {exc}") from None
    if not data["objectids"]:
        return json_response({"status": "ok", "message": "wanted spectra created", "num": 0})
    now, requester = _now(), data["requester"]
    values, params = [], {"now": now, "req": requester, "user": request.user.id}
    for k, (oid, prio) in enumerate(zip(data["objectids"], prios, strict=True)):
        values.append(f"(%(w{k})s, %(now)s, %(req)s, %(p{k})s, %(o{k})s, %(user)s)")
        params.update({f"w{k}": f"{oid} ; {requester}", f"p{k}": prio, f"o{k}": oid})
    try:
        with transaction.atomic(using=TOM_DB):
            num = _execute(
                "INSERT INTO elasticc2_wantedspectra "
                "(wantspec_id, wanttime, requester, priority, diaobject_id, user_id) "
                f"VALUES {', '.join(values)} ON CONFLICT (wantspec_id) DO UPDATE SET "
                "priority = EXCLUDED.priority, wanttime = EXCLUDED.wanttime, "
                "user_id = EXCLUDED.user_id",
                params,
            )
            _execute("SET CONSTRAINTS ALL IMMEDIATE", {})  # the FK check, as at commit
    except Exception as exc:
        raise PlainError(str(exc)) from None
    return json_response({"status": "ok", "message": "wanted spectra created", "num": num})


@tom_view(["POST"], view_name="WhatSpectraAreWanted")
def spectrawanted(request: HttpRequest, data: Any) -> HttpResponse:
    """Objects someone wants a spectrum of, not claimed, not observed, recently detected."""
    since = data.get("requested_since")
    if since is not None:
        if not isinstance(since, str) or not _SINCE.match(since):
            raise KeyError("requestedsince")  # the real error branch reads a misspelled key
        since = datetime.datetime.fromisoformat(since.replace(" ", "T")).replace(tzinfo=UTC)
    else:
        since = _now() - datetime.timedelta(days=14)
    claim = int(data.get("not_claimed_in_last_days", 7))
    nospec = int(data.get("no_spectra_in_last_days", 7))
    if data.get("detected_since_mjd") is not None:
        detsince = float(data["detected_since_mjd"])
    else:
        detsince = _mjd_now() - int(data.get("detected_in_last_days", 14))
    found = rows(
        """WITH w AS (
            SELECT DISTINCT ON (diaobject_id) diaobject_id, requester, priority
            FROM elasticc2_wantedspectra WHERE wanttime >= %(since)s
            ORDER BY diaobject_id, priority DESC, wanttime, wantspec_id),
        w2 AS (SELECT * FROM w
            WHERE diaobject_id NOT IN (SELECT diaobject_id FROM elasticc2_plannedspectra
                                       WHERE created_at > %(claim)s)
              AND diaobject_id NOT IN (SELECT diaobject_id FROM elasticc2_spectruminfo
                                       WHERE mjd >= %(specmjd)s)
              AND diaobject_id IN (SELECT diaobject_id FROM elasticc2_diasource
                                   WHERE midpointtai > %(detsince)s)),
        pts AS (
            SELECT DISTINCT ON (f.diaobject_id, f.filtername) f.diaobject_id, f.filtername,
                f.midpointtai::real AS mjd, (-2.5 * log(f.psflux) + 27)::real AS mag
            FROM elasticc2_diaforcedsource f JOIN w2 USING (diaobject_id)
            WHERE f.psflux > 0 AND f.psflux > 3 * f.psfluxerr
            ORDER BY f.diaobject_id, f.filtername, f.midpointtai DESC, f.diaforcedsource_id)
        SELECT w2.diaobject_id, o.ra, o.decl, w2.requester, w2.priority, pts.filtername,
            pts.mjd, pts.mag
        FROM w2 JOIN elasticc2_diaobject o USING (diaobject_id) JOIN pts USING (diaobject_id)
        ORDER BY w2.priority DESC, w2.diaobject_id, pts.filtername""",
        {
            "since": since,
            "claim": _now() - datetime.timedelta(days=claim),
            "specmjd": _mjd_now() - nospec,
            "detsince": detsince,
        },
    )
    if found and data.get("lim_mag") is not None:
        # desc-tom's lim_mag filter fails on any non-empty result (tom-fidelity §3.8)
        raise ViewError("lim_mag cannot filter a non-empty result (desc-tom's bug, reproduced)")
    out: list[dict[str, Any]] = []
    for r in found:
        if not out or out[-1]["oid"] != r["diaobject_id"]:
            out.append(
                {
                    "oid": r["diaobject_id"],
                    "ra": r["ra"],
                    "dec": r["decl"],
                    "req": r["requester"],
                    "prio": r["priority"],
                    "latest": {},
                }
            )
        out[-1]["latest"][r["filtername"]] = {"mjd": r["mjd"], "mag": r["mag"]}
    return json_response({"status": "ok", "wantedspectra": out})


def _object_and_facility(data: Any) -> tuple[int, str]:
    if not isinstance(data, dict) or "objectid" not in data or "facility" not in data:
        raise PlainError("Post data must be json with keys objectid and facility")
    if data["facility"] == "":
        raise PlainError("facility can't be an empty string")
    return int(data["objectid"]), data["facility"]


def _known(objectid: int) -> bool:
    return bool(
        rows("SELECT 1 FROM elasticc2_diaobject WHERE diaobject_id = %(o)s", {"o": objectid})
    )


@tom_view(["POST"], view_name="PlanToDoSpectrum")
def planspectrum(request: HttpRequest, data: Any) -> HttpResponse:
    """Plan a spectrum: ``objectid``, ``facility``, optional ``plantime`` and ``comment``."""
    from dateutil import parser

    objectid, facility = _object_and_facility(data)
    plantime = None
    if "plantime" in data:
        try:
            plantime = parser.parse(data["plantime"])
        except (TypeError, ValueError, OverflowError):
            raise PlainError(
                f"Failed to parse '{data['plantime']}' as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
            ) from None
    if not _known(objectid):
        raise NameError("name 'HttpRespose' is not defined")  # desc-tom's typo, reproduced
    stored = plantime if plantime is None or plantime.tzinfo else plantime.replace(tzinfo=UTC)
    comment = data.get("comment", "")
    created = _now()
    with transaction.atomic(using=TOM_DB):
        _execute(
            "DELETE FROM elasticc2_plannedspectra WHERE diaobject_id = %(o)s AND facility = %(f)s",
            {"o": objectid, "f": facility},
        )
        _execute(
            "INSERT INTO elasticc2_plannedspectra (facility, created_at, plantime, comment, "
            "diaobject_id) VALUES (%(f)s, %(c)s, %(p)s, %(m)s, %(o)s)",
            {"f": facility, "c": created, "p": stored, "m": comment, "o": objectid},
        )
    return json_response(
        {
            "status": "ok",
            "objectid": objectid,
            "facility": facility,
            "created_at": created,
            "plantime": plantime,
            "comment": comment,
        }
    )


@tom_view(["POST"], view_name="RemoveSpectrumPlan")
def removespectrumplan(request: HttpRequest, data: Any) -> HttpResponse:
    """Delete the plans of one facility for one object (an unknown object deletes nothing)."""
    objectid, facility = _object_and_facility(data)
    n = _execute(
        "DELETE FROM elasticc2_plannedspectra WHERE diaobject_id = %(o)s AND facility = %(f)s",
        {"o": objectid, "f": facility},
    )
    return json_response(
        {"status": "ok", "facility": facility, "objectid": objectid, "n_deleted": n}
    )


@tom_view(["POST"], view_name="ReportSpectrumInfo")
def reportspectruminfo(request: HttpRequest, data: Any) -> HttpResponse:
    """Record a spectrum; clears that facility's plans and every request for the object."""
    needed = {"objectid", "facility", "mjd", "z", "classid"}
    if not isinstance(data, dict) or not needed <= data.keys():
        raise PlainError("Incorrect fields. Missing required fields: {missingkeys}.")
    if data["facility"] == "":
        raise PlainError("facility can't be an empty string")
    objectid = int(data["objectid"])
    if not _known(objectid):
        raise PlainError(f"Unknown objectid {data['objectid']}")

    def blank(v: Any) -> Any:
        return None if v == "" else v

    inserted = _now()
    with transaction.atomic(using=TOM_DB):
        _execute(
            "INSERT INTO elasticc2_spectruminfo (facility, inserted_at, mjd, z, classid, "
            "diaobject_id) VALUES (%(f)s, %(t)s, %(m)s, %(z)s, %(c)s, %(o)s)",
            {
                "f": data["facility"],
                "t": inserted,
                "m": float(data["mjd"]),
                "z": blank(data["z"]),
                "c": blank(data["classid"]),
                "o": objectid,
            },
        )
        _execute(
            "DELETE FROM elasticc2_plannedspectra WHERE diaobject_id = %(o)s AND facility = %(f)s",
            {"o": objectid, "f": data["facility"]},
        )
        _execute("DELETE FROM elasticc2_wantedspectra WHERE diaobject_id = %(o)s", {"o": objectid})
    return json_response(
        {
            "status": "ok",
            "objectid": data["objectid"],
            "facility": data["facility"],
            "inserted_at": inserted,
            "mjd": data["mjd"],
            "z": data["z"],
            "classid": data["classid"],
        }
    )


@tom_view(["POST"], view_name="GetKnownSpectrumInfo")
def getknownspectruminfo(request: HttpRequest, data: Any) -> HttpResponse:
    """Reported spectra, filtered by ``objectid``, ``facility``, ``classid``, ``z_min``/``z_max``,
    ``since``, ``mjd_min``/``mjd_max`` (which, as in desc-tom, take their bound from ``mjd``)."""
    from dateutil import parser

    where, params = [], {}
    if "objectid" in data:
        if isinstance(data["objectid"], list):
            where.append("s.diaobject_id = ANY(%(o)s)")
        else:
            where.append("s.diaobject_id = %(o)s")
        params["o"] = data["objectid"]
    for key, cond in (
        ("facility", "s.facility = %(facility)s"),
        ("classid", "s.classid = %(classid)s"),
        ("z_min", "s.z >= %(z_min)s"),
        ("z_max", "s.z <= %(z_max)s"),
    ):
        if key in data:
            where.append(cond)
            params[key] = data[key]
    if "since" in data:
        since = parser.parse(data["since"])
        params["since"] = since if since.tzinfo else since.replace(tzinfo=UTC)
        where.append("s.inserted_at >= %(since)s")
    if "mjd_min" in data:
        params["mjd_min"] = data["mjd"]  # desc-tom's bug: KeyError 'mjd' without an mjd key
        where.append("s.mjd >= %(mjd_min)s")
    if "mjd_max" in data:
        params["mjd_max"] = data["mjd"]
        where.append("s.mjd <= %(mjd_max)s")
    found = rows(
        "SELECT s.diaobject_id AS objectid, s.facility, s.mjd, s.z, s.classid, "
        "s.inserted_at AS report_time FROM elasticc2_spectruminfo s "
        + ("WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY s.mjd",
        params,
    )
    return json_response({"status": "ok", "spectra": found})
