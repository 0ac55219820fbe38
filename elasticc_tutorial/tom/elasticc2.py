"""Helpers for the TOM's ``elasticc2/`` routes (tom-fidelity.md §2-3): light curves, hot transients,
alerts, features, the taxonomy and classifiers, the precomputed metric tables, the PPDB REST views,
broker messages and the spectrum-coordination routes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from elasticc_tutorial.errors import TomError
from elasticc_tutorial.tom.frames import tight_to_polars
from elasticc_tutorial.tom.sql import SqlApi, _read_pickle

__all__ = ["Elasticc2Api"]

#: ``what`` values of ``brokerclassfortruetype``.
METRIC_TABLES = ("objects", "sources", "classifications", "meanprobabilities", "maxprobabilities")
#: The PPDB REST list views (DRF, ``LimitOffsetPagination``).
PPDB_VIEWS = ("ppdbdiaobject", "ppdbdiasource", "ppdbdiaforcedsource")
#: Keys the TOM needs in every brokerClassification dict (it answers 500 without them).
BROKER_MESSAGE_KEYS = (
    "alertId",
    "diaSourceId",
    "elasticcPublishTimestamp",
    "brokerIngestTimestamp",
    "brokerName",
    "brokerVersion",
    "classifierName",
    "classifierParams",
    "classifications",
)


def _ids(values: int | Iterable[int], what: str) -> list[int]:
    ids = [int(values)] if isinstance(values, int) else [int(i) for i in values]
    if not ids:
        raise ValueError(f"{what} is empty: give at least one id")
    return ids


def _one_id(**given: int | None) -> dict[str, int]:
    """The route body naming the one id given (e.g. ``alertid`` or ``sourceid``), not both or none."""
    body = {key: int(value) for key, value in given.items() if value is not None}
    if len(body) != 1:
        raise ValueError(f"give exactly one of {' or '.join(given)}")
    return body


def _ppdb_view(view: str, doc: str) -> Any:
    """A :class:`Elasticc2Api` method reading the PPDB REST list view ``elasticc2/<view>/``."""

    def method(
        self: Elasticc2Api,
        pk: int | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        page_size: int = 1000,
    ) -> pl.DataFrame | dict[str, Any]:
        return self._ppdb(view, pk, limit, offset, page_size)

    method.__name__ = f"ppdb_{view.removeprefix('ppdb')}"
    method.__qualname__ = f"Elasticc2Api.{method.__name__}"
    method.__doc__ = doc
    return method


def _returned_ids(out: Any, return_format: int) -> set[int]:
    """The objectids present in an ``ltcv`` answer of each format."""
    if return_format == 2 and isinstance(out, Mapping):
        return {int(i) for i in out.get("objectid", [])}
    if isinstance(out, list):
        return {int(o["objectid"]) for o in out if isinstance(o, Mapping) and "objectid" in o}
    return set()


class Elasticc2Api(SqlApi):
    """``elasticc2/`` helpers (mixed into :class:`~elasticc_tutorial.tom.TomClient`)."""

    # -- light curves, alerts, features --------------------------------------------------------

    def ltcv(
        self,
        objectids: int | Iterable[int],
        *,
        mjd_now: float | None = None,
        return_format: int = 0,
        include_hostinfo: bool = False,
        allow_missing: bool = False,
    ) -> Any:
        """Light curves (``elasticc2/ltcv``): the ``diaobject`` payload in ``return_format`` 0/1/2
        (2 is a dict of lists: ``pl.DataFrame(tom.ltcv(ids, return_format=2))``).

        The TOM silently leaves out ids it does not know (or that have no forced photometry up to
        ``mjd_now``); this raises :class:`TomError` naming them, unless ``allow_missing=True``.
        """
        ids = _ids(objectids, "objectids")
        data: dict[str, Any] = {"objectids": ids, "return_format": int(return_format)}
        if mjd_now is not None:
            data["mjd_now"] = float(mjd_now)
        if include_hostinfo:
            data["include_hostinfo"] = 1
        out = self.query("elasticc2/ltcv", data)["diaobject"]
        missing = sorted(set(ids) - _returned_ids(out, int(return_format)))
        if missing and not allow_missing and (return_format != 1 or out == []):
            cut = f" up to mjd_now={mjd_now}" if mjd_now is not None else ""
            shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
            raise TomError(
                f"elasticc2/ltcv: the TOM has no light curve{cut} for {len(missing)} of "
                f"{len(set(ids))} objectids: {shown} (pass allow_missing=True to accept that)",
                status=200,
                page="elasticc2/ltcv",
            )
        return out

    def hot_transients(
        self,
        *,
        mjd_now: float | None = None,
        detected_in_last_days: float | None = None,
        detected_since_mjd: float | None = None,
        return_format: int = 0,
        include_hostinfo: bool = False,
        cheat_gentypes: Iterable[int] | None = None,
    ) -> Any:
        """Objects detected recently with their light curves (``elasticc2/gethottransients``)."""
        if detected_in_last_days is not None and detected_since_mjd is not None:
            raise ValueError("give detected_in_last_days or detected_since_mjd, not both")
        data: dict[str, Any] = {"return_format": return_format}
        for key, value in (
            ("mjd_now", mjd_now),
            ("detected_in_last_days", detected_in_last_days),
            ("detected_since_mjd", detected_since_mjd),
        ):
            if value is not None:
                data[key] = float(value)
        if include_hostinfo:
            data["include_hostinfo"] = 1
        if cheat_gentypes is not None:
            data["cheat_gentypes"] = _ids(cheat_gentypes, "cheat_gentypes")
        return self.query("elasticc2/gethottransients", data)["diaobject"]

    def alert(self, alertid: int | None = None, *, sourceid: int | None = None) -> dict[str, Any]:
        """A reconstructed alert (``elasticc2/getalert``) by ``alertid`` or ``sourceid``."""
        return self.query("elasticc2/getalert", _one_id(alertid=alertid, sourceid=sourceid))

    def ltcv_features(
        self,
        objectid: int | None = None,
        *,
        sourceid: int | None = None,
        through_mjd: float | None = None,
        include_ltcv: bool = False,
    ) -> dict[str, Any]:
        """Light-curve features (``elasticc2/ltcvfeatures``) of an object, or of a source's object up
        to that source; with ``include_ltcv`` also the ``lightcurve`` used."""
        data: dict[str, Any] = _one_id(objectid=objectid, sourceid=sourceid)
        if through_mjd is not None:
            data["through_mjd"] = float(through_mjd)
        if include_ltcv:
            data["includeltcv"] = 1
        return self.query("elasticc2/ltcvfeatures", data)

    # -- taxonomy, classifiers, metric tables --------------------------------------------------

    def classids(self) -> dict[str, Any]:
        """The classId taxonomy as the TOM serves it (``elasticc2/classids``)."""
        return self.query("elasticc2/classids", method="GET")

    def classifiers(self) -> dict[str, Any]:
        """Broker classifiers by ``classifier_id`` (``elasticc2/classifiers_json``)."""
        return self.query("elasticc2/classifiers_json", method="GET")

    def broker_class_for_true_type(
        self, what: str, classifier_id: int, classid: int, *, dataformat: str = "json"
    ) -> Any:
        """The TOM's precomputed metric table for one classifier and true (leaf) class.

        ``what``: ``objects``, ``sources``, ``classifications``, ``meanprobabilities`` or
        ``maxprobabilities`` (``elasticc2/brokerclassfortruetype/<dataformat>/<what>/<classifier>/<classid>/``).
        ``dataformat="json"``: the server's pandas "tight" dict as a polars frame, index levels first,
        under the TOM's own names (e.g. ``relday``, ``m.classid``, ``m.probability``).
        ``dataformat="pickle"``: the pandas object itself (needs pandas; much faster for the big
        tables; unpickling runs code from the server, so use it only with a TOM you trust).
        """
        if what not in METRIC_TABLES:
            raise ValueError(f"what must be one of {', '.join(METRIC_TABLES)}, not {what!r}")
        if dataformat not in ("json", "pickle"):
            raise ValueError(f"dataformat must be 'json' or 'pickle', not {dataformat!r}")
        rest = f"{what}/{int(classifier_id)}/{int(classid)}/"
        if dataformat == "json":
            page = f"elasticc2/brokerclassfortruetype/dict/{rest}"
            return tight_to_polars(self.query(page, method="GET"), what=page)
        page = f"elasticc2/brokerclassfortruetype/pickle/{rest}"
        tmpdir = tempfile.mkdtemp(prefix="elasticc-tom-")
        try:
            path = Path(tmpdir) / "table.pkl"
            self.download("GET", page, path, content_type="application/octet-stream")
            return _read_pickle(path)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    # -- PPDB REST views -----------------------------------------------------------------------

    def _ppdb(
        self, view: str, pk: int | None, limit: int | None, offset: int, page_size: int
    ) -> pl.DataFrame | dict[str, Any]:
        if pk is not None:
            return self.call_json("GET", f"elasticc2/{view}/{int(pk)}/")
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number of rows, not {limit}")
        rows: list[dict[str, Any]] = []
        while True:
            want = page_size if limit is None else min(page_size, limit - len(rows))
            page = self.call_json(
                "GET", f"elasticc2/{view}/", params={"limit": want, "offset": offset}
            )
            try:
                results, count = page["results"], int(page["count"])
            except (KeyError, TypeError, ValueError):
                raise TomError(
                    f"elasticc2/{view}/: not a DRF page (expected count and results)",
                    page=f"elasticc2/{view}/",
                ) from None
            rows += results
            offset += len(results)
            if not results or offset >= count or (limit is not None and len(rows) >= limit):
                break
        return pl.DataFrame(rows, infer_schema_length=None)

    ppdb_diaobject = _ppdb_view(
        "ppdbdiaobject",
        """``elasticc2/ppdbdiaobject/``: one object as a dict (``pk``), or rows as a polars frame:
        ``limit`` rows from ``offset``, or (``limit=None``) every row, fetched ``page_size`` at a time
        (on the real TOM that is 4 million objects: use SQL instead). The TOM gives no order, so
        pages may overlap or miss rows while its tables change.""",
    )
    ppdb_diasource = _ppdb_view(
        "ppdbdiasource",
        """``elasticc2/ppdbdiasource/`` (see :meth:`ppdb_diaobject`; the object id is ``diaobject``).""",
    )
    ppdb_diaforcedsource = _ppdb_view(
        "ppdbdiaforcedsource",
        """``elasticc2/ppdbdiaforcedsource/`` (see :meth:`ppdb_diaobject`).""",
    )

    def ppdb_object_with_sources(self, objectid: int) -> dict[str, Any]:
        """An object with all its ``diasources`` and ``diaforcedsources``
        (``elasticc2/ppdbdiaobjectwithsources/<objectid>/``)."""
        return self.call_json("GET", f"elasticc2/ppdbdiaobjectwithsources/{int(objectid)}/")

    def ppdb_object_of_source(self, sourceid: int) -> dict[str, Any]:
        """The object of a source with its sources and forced sources up to that source's time,
        itself included (``elasticc2/ppdbdiaobjectofsource/<sourceid>/``)."""
        return self.call_json("GET", f"elasticc2/ppdbdiaobjectofsource/{int(sourceid)}/")

    # -- broker messages -----------------------------------------------------------------------

    def send_broker_messages(
        self, classifications: Mapping[str, Any] | Iterable[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """PUT brokerClassification dicts to ``elasticc2/brokermessage/`` (allowed for brokers and
        superusers) and return the TOM's 201 body ``{"brokerMessageId": ..., "num_loaded": N}``.
        Never repeated automatically: a lost answer may still have stored the messages."""
        msgs = [classifications] if isinstance(classifications, Mapping) else list(classifications)
        if not msgs:
            raise ValueError(
                "classifications is empty: give at least one brokerClassification dict"
            )
        for i, msg in enumerate(msgs):
            if not isinstance(msg, Mapping):
                raise TypeError(f"classifications[{i}] is a {type(msg).__name__}, expected a dict")
            missing = [k for k in BROKER_MESSAGE_KEYS if k not in msg]
            if missing:
                raise ValueError(f"classifications[{i}] lacks {', '.join(missing)}")
        return self.call_json("PUT", "elasticc2/brokermessage/", expect=201, json=msgs)

    # -- spectrum coordination -----------------------------------------------------------------

    def ask_for_spectrum(
        self, objectids: Iterable[int], priorities: Iterable[int], *, requester: str
    ) -> dict[str, Any]:
        """Ask for spectra of objects (``elasticc2/askforspectrum``); priorities 0..5, one per id."""
        ids, prios = _ids(objectids, "objectids"), [int(p) for p in priorities]
        if len(ids) != len(prios):
            raise ValueError(f"{len(ids)} objectids but {len(prios)} priorities: give one each")
        if len(set(ids)) != len(ids):
            raise ValueError("objectids has duplicates (the TOM refuses them in one request)")
        body = {"requester": str(requester), "objectids": ids, "priorities": prios}
        return self.query("elasticc2/askforspectrum", body)

    def spectra_wanted(self, **filters: Any) -> list[dict[str, Any]]:
        """Objects someone wants a spectrum of (``elasticc2/spectrawanted``); ``filters`` are the
        route's keys (``requested_since``, ``not_claimed_in_last_days``, ``detected_since_mjd`` or
        ``detected_in_last_days``, ``no_spectra_in_last_days``)."""
        return self.query("elasticc2/spectrawanted", filters)["wantedspectra"]

    def plan_spectrum(
        self, objectid: int, facility: str, *, plantime: str | None = None, comment: str = ""
    ) -> dict[str, Any]:
        """Say that ``facility`` plans a spectrum of an object (``elasticc2/planspectrum``)."""
        body: dict[str, Any] = {"objectid": int(objectid), "facility": facility, "comment": comment}
        if plantime is not None:
            body["plantime"] = plantime
        return self.query("elasticc2/planspectrum", body)

    def remove_spectrum_plan(self, objectid: int, facility: str) -> dict[str, Any]:
        """Withdraw a plan (``elasticc2/removespectrumplan``); ``n_deleted`` says how many."""
        return self.query(
            "elasticc2/removespectrumplan", {"objectid": int(objectid), "facility": facility}
        )

    def report_spectrum_info(
        self,
        objectid: int,
        facility: str,
        mjd: float,
        *,
        z: float | None = None,
        classid: int | None = None,
    ) -> dict[str, Any]:
        """Report a spectrum's result (``elasticc2/reportspectruminfo``)."""
        body = {
            "objectid": int(objectid),
            "facility": facility,
            "mjd": float(mjd),
            "z": z,
            "classid": classid,
        }
        return self.query("elasticc2/reportspectruminfo", body)

    def known_spectrum_info(self, **filters: Any) -> list[dict[str, Any]]:
        """Reported spectra (``elasticc2/getknownspectruminfo``); ``filters``: ``objectid``,
        ``facility``, ``classid``, ``z_min``, ``z_max``, ``since``."""
        return self.query("elasticc2/getknownspectruminfo", filters)["spectra"]
