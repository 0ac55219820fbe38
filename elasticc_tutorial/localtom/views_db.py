"""The SQL endpoints ``db/runsqlquery/``, ``db/submitsqlquery/``, ``db/checksqlquery/<id>/`` and
``db/getsqlqueryresults/<id>/``, with desc-tom's request fields, response shapes, encodings, error
texts and status codes (reference: tom-fidelity.md §4).

Where desc-tom would silently do something else than asked, the local TOM refuses with an error
that says so: a list of queries with one subdict dict (desc-tom runs only the first query), a
different number of queries and subdicts (desc-tom runs only as many as the shorter list). It also
refuses transaction control and role changes, enforces row/byte/size limits (stated in the error),
gives long-query results to their owner only, and adds ``columns`` (names and PostgreSQL types) to
successful answers, which clients that read only ``rows`` never see.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse

from elasticc_tutorial.localtom.models import QueryQueue
from elasticc_tutorial.localtom.readonly import (
    Overloaded,
    QueryError,
    dedupe_columns,
    prepare_statements,
    row_limit_message,
    user_id_of,
)
from elasticc_tutorial.localtom.views_common import (
    RUNTIME,
    DescJSONEncoder,
    json_response,
    login_required_403,
    overloaded_response,
    text_response,
)

log = logging.getLogger(__name__)

FORMATS = ("csv", "pandas", "numpy")
#: Results up to this size stay in memory; bigger ones are spooled to a file (bounded memory).
_SPOOL_BYTES = 4 * 1024 * 1024


def _post_only(request: HttpRequest) -> HttpResponse | None:
    if request.method != "POST":
        resp = HttpResponse(status=405)  # desc-tom: empty body and an Allow header
        resp["Allow"] = "POST"
        return resp
    return None


def _error(text: str) -> HttpResponse:
    return json_response({"status": "error", "error": text})


def extract_queries(body: bytes) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    """desc-tom's ``_extract_queries``: the body, its queries and one subdict per query."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QueryError(str(exc)) from None
    if not isinstance(data, dict) or "query" not in data:
        raise QueryError("POST data must include 'query'")
    query = data["query"]
    if isinstance(query, str):
        queries = [query]
    elif isinstance(query, list):
        if not all(isinstance(q, str) for q in query):
            raise QueryError("queries must all be strings")
        queries = query
    else:
        raise QueryError("query must be either a list of strings or a string")
    if "subdict" not in data:
        return data, queries, [{} for _ in queries]
    sub = data["subdict"]
    if isinstance(sub, dict):
        if len(queries) > 1:
            raise QueryError(
                f"a list of {len(queries)} queries with a single subdict dict: desc-tom would run "
                "only the first query (it pairs queries and subdicts with zip()); give a list of "
                "dicts, one per query (use {} for a query without parameters), or leave subdict "
                "out when no query has parameters"
            )
        subdicts = [sub]
    elif isinstance(sub, list):
        if not all(isinstance(s, dict) for s in sub):
            raise QueryError("subdicts must all be dicts")
        subdicts = sub
    else:
        raise QueryError("subdict must be either a list of dicts or a dict")
    if len(subdicts) != len(queries):
        raise QueryError(
            f"number of queries and subdicts must match: {len(queries)} queries, "
            f"{len(subdicts)} subdicts (desc-tom would silently run only the first "
            f"{min(len(queries), len(subdicts))} queries)"
        )
    return data, queries, subdicts


def _encode_rows(names: list[str], batches, out, limit_rows: int, limit_bytes: int) -> int:
    """Write the JSON array items of the rows to ``out``; the number of rows."""
    encoder = DescJSONEncoder()
    nrows = nbytes = 0
    for batch in batches:
        nrows += len(batch)
        if nrows > limit_rows:
            raise QueryError(row_limit_message(limit_rows))
        # dict(): a repeated column name keeps its first position and takes the last value
        text = encoder.encode([dict(zip(names, r, strict=True)) for r in batch])[1:-1]
        chunk = (", " if nbytes else "") + text
        nbytes += len(chunk)
        if nbytes > limit_bytes:
            raise QueryError(
                f"the result is larger than {limit_bytes} bytes of JSON, the local TOM's limit "
                "for db/runsqlquery/; select fewer columns or rows, or use the long-query "
                "interface (db/submitsqlquery/)"
            )
        out.write(chunk.encode())
        batches.feedback(len(chunk), len(batch))
    return nrows


@login_required_403
def runsqlquery(request: HttpRequest) -> HttpResponse:
    """Run the queries in one rolled-back transaction: 200 ``{status: ok, rows, columns}`` or
    200 ``{status: error, error}`` (SQL errors included, as desc-tom)."""
    if bad := _post_only(request):
        return bad
    ro = RUNTIME.ro
    assert ro is not None and RUNTIME.results_dir is not None  # set by the server before serving
    spool = tempfile.SpooledTemporaryFile(_SPOOL_BYTES, dir=str(RUNTIME.results_dir))  # noqa: SIM115
    try:
        _, queries, subdicts = extract_queries(request.body)
        log.debug("runsqlquery by %s: %d queries", request.user.username, len(queries))
        with ro.results(queries, subdicts, user_id=user_id_of(request)) as (cols, batches):
            spool.write(b'{"status": "ok", "rows": [')
            names = [c["name"] for c in cols]
            _encode_rows(names, batches, spool, ro.limits.max_rows, ro.limits.max_result_bytes)
            spool.write(b'], "columns": ' + json.dumps(dedupe_columns(cols)).encode() + b"}")
    except Overloaded as exc:
        spool.close()
        return overloaded_response(str(exc))
    except (QueryError, TypeError, ValueError) as exc:
        spool.close()
        return _error(str(exc))
    spool.seek(0)
    return FileResponse(spool, content_type="application/json")


@login_required_403
def submitsqlquery(request: HttpRequest) -> HttpResponse:
    """Queue a long query: 200 ``{status: ok, queryid}`` or 200 ``{status: error, error}``."""
    if bad := _post_only(request):
        return bad
    try:
        data, queries, subdicts = extract_queries(request.body)
        fmt = data.get("format", "csv")
        if fmt not in FORMATS:
            raise QueryError(f"Unknown format {fmt}")
        # Refuse what can never run now, not minutes later (the runner binds lists as ARRAYs).
        assert RUNTIME.ro is not None  # set by the server before serving
        prepare_statements(queries, subdicts, lists_as_arrays=True, limits=RUNTIME.ro.limits)
    except QueryError as exc:
        return _error(str(exc))
    q = QueryQueue.objects.create(
        owner=request.user, queries=queries, subdicts=subdicts, format=fmt
    )
    RUNTIME.runner.adopt(q.queryid)
    RUNTIME.runner.wake()
    return json_response({"status": "ok", "queryid": str(q.queryid)})


def _find(request: HttpRequest, queryid: str) -> tuple[QueryQueue | None, str | None]:
    """The caller's query, or None and desc-tom's error text (others' queries look unknown)."""
    try:
        qid = uuid.UUID(queryid)
    except ValueError:
        return None, f"['“{queryid}” is not a valid UUID.']"
    return QueryQueue.objects.filter(queryid=qid, owner=request.user).first(), None


@login_required_403
def checksqlquery(request: HttpRequest, queryid: str) -> HttpResponse:
    """Status of a long query (always HTTP 200); timestamps with microseconds and ``+00:00``."""
    if bad := _post_only(request):
        return bad
    q, bad_id = _find(request, queryid)
    if q is None:
        return _error(bad_id or f"Unknown query {queryid}")
    out: dict[str, Any] = {
        "queryid": str(q.queryid),
        "queries": q.queries,
        "subdicts": q.subdicts,
        "submitted": q.submitted.isoformat(),
    }
    if q.error:
        out["status"] = "error"
        if q.started:
            out["started"] = q.started.isoformat()
        out["finished"] = q.finished.isoformat() if q.finished else None
        out["error"] = q.errortext
    elif q.finished:
        out.update(status="finished", started=q.started.isoformat())
        out.update(finished=q.finished.isoformat(), nrows=q.nrows, columns=q.columns)
    elif q.started:
        out.update(status="started", started=q.started.isoformat())
    else:
        out["status"] = "queued"
    return HttpResponse(json.dumps(out), content_type="application/json")


@login_required_403
def getsqlqueryresults(request: HttpRequest, queryid: str) -> HttpResponse:
    """The result file: 200 ``text/csv`` (pandas ``to_csv`` layout, index column first) or a
    pickle; HTTP 500 ``text/plain`` with desc-tom's texts otherwise."""
    if bad := _post_only(request):
        return bad
    q, bad_id = _find(request, queryid)
    if q is None:
        return text_response(
            bad_id
            or f"'QuerySet' object has no attribute 'queryid' (desc-tom's answer for an "
            f"unknown query: Unknown query {queryid})",
            500,
        )
    if q.error:
        return text_response(f"Query errored out: {q.errortext}", 500)
    if not q.started:
        return text_response(f"Query {queryid} hasn't started yet", 500)
    if not q.finished:
        return text_response(f"Query {queryid} hasn't finished yet", 500)
    assert RUNTIME.results_dir is not None  # set by the server before serving
    path = RUNTIME.results_dir / str(q.queryid)
    try:
        fh = path.open("rb")
    except OSError as exc:
        return text_response(str(exc), 500)
    ctype = "text/csv; charset=utf-8" if q.format == "csv" else "application/octet-stream"
    resp = FileResponse(fh, content_type=ctype)
    resp["X-Column-Types"] = json.dumps(q.columns)
    return resp
