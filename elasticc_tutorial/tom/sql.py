"""The TOM's SQL interface (tom-fidelity.md §4): ``db/runsqlquery/`` for fast queries and the long-query
protocol ``submitsqlquery`` → ``checksqlquery`` → ``getsqlqueryresults``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from elasticc_tutorial.errors import TomError
from elasticc_tutorial.tom.frames import frame_from_rows, scan_result_csv
from elasticc_tutorial.tom.transport import Transport

__all__ = ["SqlApi"]

#: Long-query result formats the client can read (the server's ``numpy`` always fails).
FORMATS = ("csv", "pandas")


def _body(query: str | list[str], subdict: dict | list[dict] | None) -> dict[str, Any]:
    if not isinstance(query, str | list):
        raise TypeError("query must be a string or a list of strings")
    body: dict[str, Any] = {"query": query}
    if subdict is not None:
        # The server zip()s queries with subdicts and silently skips the extra queries.
        if isinstance(query, list) and isinstance(subdict, list) and len(query) != len(subdict):
            raise ValueError(
                f"{len(query)} queries but {len(subdict)} subdicts: give one subdict per query"
            )
        body["subdict"] = subdict
    return body


def _read_pickle(path: Path) -> Any:
    try:
        import pandas as pd
    except ModuleNotFoundError:
        raise TomError(
            "this TOM answer is a pandas pickle, and pandas is not installed: "
            "pip install 'elasticc-tutorial[twin]' (or pip install pandas)"
        ) from None
    return pd.read_pickle(path)


class SqlApi(Transport):
    """SQL helpers (mixed into :class:`~elasticc_tutorial.tom.TomClient`)."""

    def query(self, endpoint: str, data: Any = None, *, method: str = "POST") -> Any:
        """Send ``data`` as JSON to ``endpoint`` and return the decoded JSON.

        Raises :class:`TomError` with the server's message for a non-200 status (plain text, JSON
        ``error``/``detail``, or a summary of an HTML page), invalid JSON, or a ``"status": "error"``
        body; a misspelled route's error lists the closest real ones.
        """
        out = self.call_json(method, endpoint, json=data if data is not None else {})
        if isinstance(out, dict) and out.get("status") == "error":
            page = endpoint.strip("/")
            raise TomError(f"{page}: {out.get('error', 'unknown error')}", status=200, page=page)
        return out

    def sql(self, query: str | list[str], subdict: dict | list[dict] | None = None) -> pl.DataFrame:
        """Run SQL through ``db/runsqlquery/`` (fast queries, under the proxy's 5-minute limit) and
        return the last query's rows as a polars DataFrame with dtypes from the column types."""
        out = self.query("db/runsqlquery/", _body(query, subdict))
        return frame_from_rows(out.get("rows", []), out.get("columns"))

    def submit_sql(
        self,
        query: str | list[str],
        subdict: dict | list[dict] | None = None,
        *,
        format: str = "csv",
    ) -> str:
        """Queue a long query (result ``format`` ``csv`` or ``pandas``); returns its ``queryid``."""
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        out = self.query("db/submitsqlquery/", {**_body(query, subdict), "format": format})
        return out["queryid"]

    def check_sql(self, queryid: str) -> dict[str, Any]:
        """The status record of a long query (``status`` is queued, started, finished or error)."""
        return self.call_json("POST", f"db/checksqlquery/{queryid}/")

    def long_sql(
        self,
        query: str | list[str],
        subdict: dict | list[dict] | None = None,
        *,
        format: str = "csv",
        timeout: float = 3600.0,
        poll: float = 1.0,
        max_poll: float = 60.0,
        progress: bool = True,
        dest: str | os.PathLike[str] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """Run SQL through the long-query interface: submit, poll (with a tqdm status line) until it
        finishes, download, and return the rows.

        Polling starts every ``poll`` seconds and slows to ``max_poll`` (the real TOM's runner looks
        at its queue once a minute); after ``timeout`` seconds (``deadline`` is the old name) it
        gives up with the queryid, to check later. A query the server reports as failed raises at
        once with the server's text.

        ``format="csv"`` (default) gives a polars DataFrame; the CSV is streamed to disk, never held
        in memory as text, and with ``dest`` it is kept there and a :class:`polars.LazyFrame` over
        it is returned. ``format="pandas"`` gives the pandas DataFrame the server pickled (needs
        pandas; unpickling runs code from the server, so use it only with a TOM you trust).
        """
        if deadline is not None:
            timeout = deadline
        # tqdm.auto only when a bar is shown: in Jupyter without ipywidgets it warns on import
        import tqdm

        progress_bar = tqdm.tqdm
        if progress:
            import tqdm.auto

            progress_bar = tqdm.auto.tqdm

        queryid = self.submit_sql(query, subdict, format=format)
        t0 = time.monotonic()
        wait = poll
        with progress_bar(
            total=None, disable=not progress, desc=f"query {queryid[:8]}", unit="check"
        ) as bar:
            while True:
                state = self.check_sql(queryid)
                status = state.get("status")
                bar.set_postfix_str(f"{status}, {time.monotonic() - t0:.0f} s")
                bar.update(1)
                if status == "finished":
                    break
                if status == "error":
                    raise TomError(
                        f"long query {queryid} failed on the TOM: {state.get('error')}",
                        status=200,
                        page=f"db/checksqlquery/{queryid}/",
                    )
                if status not in ("queued", "started"):
                    raise TomError(
                        f"long query {queryid}: unexpected status {status!r} from checksqlquery",
                        page=f"db/checksqlquery/{queryid}/",
                    )
                left = timeout - (time.monotonic() - t0)
                if left <= 0:
                    raise TomError(
                        f"long query {queryid} is still {status} after {timeout:.0f} s; "
                        f"check later with check_sql({queryid!r}), then sql_results({queryid!r})"
                    )
                self._sleep(min(wait, left))
                wait = min(wait * 1.5, max_poll)
        return self.sql_results(queryid, columns=state.get("columns"), dest=dest, format=format)

    def sql_results(
        self,
        queryid: str,
        *,
        columns: list[dict[str, str]] | None = None,
        dest: str | os.PathLike[str] | None = None,
        format: str = "csv",
    ) -> Any:
        """Download a finished long query's result (see :meth:`long_sql` for ``format`` and
        ``dest``). Nothing partial is left behind when the download fails or is interrupted."""
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        page = f"db/getsqlqueryresults/{queryid}/"
        tmpdir = None
        if dest is not None:
            path = Path(dest)
        else:
            tmpdir = tempfile.mkdtemp(prefix="elasticc-tom-")
            path = Path(tmpdir) / f"{queryid}.{'csv' if format == 'csv' else 'pkl'}"
        try:
            ctype = "csv" if format == "csv" else "application/octet-stream"
            headers = self.download("POST", page, path, content_type=ctype)
            if format == "pandas":
                return _read_pickle(path)
            if columns is None and headers.get("X-Column-Types"):
                columns = json.loads(headers["X-Column-Types"])
            lazy = scan_result_csv(path, columns)
            return lazy if dest is not None else lazy.collect()
        finally:
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)
