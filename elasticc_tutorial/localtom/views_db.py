"""The SQL endpoints ``db/runsqlquery/``, ``db/submitsqlquery/``, ``db/checksqlquery/<id>/`` and
``db/getsqlqueryresults/<id>/``, with the real TOM's request fields, response shapes and status codes.

Differences from the real TOM, all on the safe side: the number of queries and subdicts must match
(the real one silently skips extra queries); one SQL statement per query string; a statement timeout;
long-query results belong to the user who submitted them; ``format: pandas`` needs pandas on the server.
Success responses of ``runsqlquery`` carry an extra ``columns`` list (name and PostgreSQL type) that the
real TOM lacks; clients that only read ``rows`` are unaffected.
"""

from __future__ import annotations

import json
import logging
import uuid

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone

from elasticc_tutorial.localtom.models import QueryQueue
from elasticc_tutorial.localtom.readonly import QueryError, extract_queries
from elasticc_tutorial.localtom.views_common import (
    RUNTIME,
    json_response,
    login_required_403,
    read_json_body,
    text_response,
)

log = logging.getLogger(__name__)

FORMATS = ("csv", "pandas", "numpy")


def _post_only(request: HttpRequest) -> HttpResponse | None:
    if request.method != "POST":
        resp = text_response(f"405 Method Not Allowed: use POST, not {request.method}", 405)
        resp["Allow"] = "POST"
        return resp
    return None


@login_required_403
def runsqlquery(request: HttpRequest) -> HttpResponse:
    """Run queries in one rolled-back transaction; 200 ``{status: ok, rows, columns}`` or
    200 ``{status: error, error}`` (SQL errors included, as in the real TOM)."""
    if bad := _post_only(request):
        return bad
    try:
        queries, subdicts = extract_queries(read_json_body(request))
        log.debug("runsqlquery by %s: %s %s", request.user.username, queries, subdicts)
        rows, columns = RUNTIME.ro.run(queries, subdicts)
    except (QueryError, ValueError) as exc:
        return json_response({"status": "error", "error": str(exc)})
    return json_response({"status": "ok", "rows": rows, "columns": columns})


@login_required_403
def submitsqlquery(request: HttpRequest) -> HttpResponse:
    """Queue a long query: 200 ``{status: ok, queryid}`` or 200 ``{status: error, error}``."""
    if bad := _post_only(request):
        return bad
    try:
        data = read_json_body(request)
        queries, subdicts = extract_queries(data)
        fmt = data.get("format", "csv")
        if fmt not in FORMATS:
            raise QueryError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if fmt == "pandas":
            try:
                import pandas  # noqa: F401
            except ImportError:
                raise QueryError(
                    "format 'pandas' needs pandas installed on the local TOM; use 'csv'"
                ) from None
    except (QueryError, ValueError) as exc:
        return json_response({"status": "error", "error": str(exc)})
    q = QueryQueue.objects.create(
        owner=request.user, queries=queries, subdicts=subdicts, format=fmt
    )
    RUNTIME.runner.wake()
    return json_response({"status": "ok", "queryid": str(q.queryid)})


def _own_query(request: HttpRequest, queryid: str) -> QueryQueue | None:
    """The query if it exists and belongs to the caller; others' ids look unknown."""
    try:
        qid = uuid.UUID(queryid)
    except ValueError:
        return None
    return QueryQueue.objects.filter(queryid=qid, owner=request.user).first()


@login_required_403
def checksqlquery(request: HttpRequest, queryid: str) -> HttpResponse:
    """Status of a long query: ``queued``, ``started``, ``finished`` or ``error`` (always HTTP 200)."""
    if bad := _post_only(request):
        return bad
    q = _own_query(request, queryid)
    if q is None:
        return json_response({"status": "error", "error": f"Unknown query {queryid}"})
    out = {
        "queryid": str(q.queryid),
        "queries": q.queries,
        "subdicts": q.subdicts,
        "submitted": q.submitted.isoformat(),
    }
    if q.started:
        out["started"] = q.started.isoformat()
    if q.error:
        out.update(status="error", error=q.errortext, finished=q.finished.isoformat())
    elif q.finished:
        out.update(status="finished", finished=q.finished.isoformat(), nrows=q.nrows)
        out["columns"] = q.columns
    else:
        out["status"] = "started" if q.started else "queued"
    return json_response(out)


@login_required_403
def getsqlqueryresults(request: HttpRequest, queryid: str) -> HttpResponse:
    """The result file: 200 ``text/csv`` (pandas-style, with a leading index column) or a pickle;
    HTTP 500 ``text/plain`` when the query errored, is unfinished or unknown (as in the real TOM,
    minus its AttributeError for unknown ids)."""
    if bad := _post_only(request):
        return bad
    q = _own_query(request, queryid)
    if q is None:
        return text_response(f"Unknown query {queryid}", 500)
    if q.error:
        return text_response(f"Query errored out: {q.errortext}", 500)
    if not q.started:
        return text_response(f"Query {queryid} hasn't started yet", 500)
    if not q.finished:
        return text_response(f"Query {queryid} hasn't finished yet", 500)
    path = RUNTIME.results_dir / str(q.queryid)
    if not path.is_file():
        return text_response(f"Results of query {queryid} are no longer available", 500)
    ctype = "text/csv; charset=utf-8" if q.format == "csv" else "application/octet-stream"
    resp = FileResponse(path.open("rb"), content_type=ctype)
    resp["X-Column-Types"] = json.dumps(q.columns)
    resp["X-Finished"] = q.finished.isoformat() if q.finished else timezone.now().isoformat()
    return resp
