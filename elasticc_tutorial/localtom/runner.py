"""The long-query runner: a background thread that runs queued ``db_queryqueue`` rows one at a time
(like desc-tom's single ``long_query_runner``) as the submitting user's role, streaming the last
query's rows from a server-side cursor to a file.

While a query runs, the runner holds a PostgreSQL advisory lock named after its id. A query marked
started whose lock nobody holds had its runner die (a killed server): :func:`fail_orphans` marks it
failed, at start and at every poll, so clients learn it at once instead of waiting forever.
"""

from __future__ import annotations

import csv
import logging
import os
import pickle
import threading
import uuid
from pathlib import Path

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from elasticc_tutorial.localtom.readonly import Overloaded, QueryError, ReadOnlyDatabase

log = logging.getLogger(__name__)

ORPHAN_TEXT = (
    "the local TOM's long-query runner stopped while this query was running (the server was "
    "stopped or killed); submit the query again"
)


def _lock_key(queryid: uuid.UUID) -> int:
    return int.from_bytes(queryid.bytes[:8], "big", signed=True)


def fail_orphans() -> int:
    """Mark failed every started, unfinished query whose runner is gone; how many."""
    from elasticc_tutorial.localtom.models import QueryQueue

    n = 0
    for q in QueryQueue.objects.filter(started__isnull=False, finished__isnull=True):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(q.queryid)])
            if not cur.fetchone()[0]:
                continue  # a live runner (maybe another local TOM's) holds it
            try:
                n += QueryQueue.objects.filter(pk=q.pk, finished__isnull=True).update(
                    error=True, errortext=ORPHAN_TEXT, finished=timezone.now()
                )
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(q.queryid)])
    if n:
        log.warning("%d long queries lost their runner; marked failed", n)
    return n


class LongQueryRunner(threading.Thread):
    """Runs queued long queries; results go to ``results_dir/<queryid>``."""

    def __init__(
        self,
        ro: ReadOnlyDatabase,
        results_dir: Path,
        *,
        timeout: float = 3600.0,
        poll: float = 5.0,
    ) -> None:
        super().__init__(name="long-query-runner", daemon=True)
        self.ro = ro
        self.results_dir = Path(results_dir)
        self.timeout = timeout
        self.poll = poll
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._own: set[uuid.UUID] = set()  # queued queries submitted through this server
        self._own_lock = threading.Lock()

    def wake(self) -> None:
        """Look at the queue now (called on submit) instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                fail_orphans()
                while not self._stopping.is_set() and self._run_one():
                    pass
            except Exception:  # keep the runner alive whatever one query does
                log.exception("long-query runner error")
            finally:
                close_old_connections()
            self._wake.wait(self.poll)
            self._wake.clear()

    def _claim(self):
        """The oldest queued query, marked started, with its advisory lock held (or None)."""
        from elasticc_tutorial.localtom.models import QueryQueue

        with self._own_lock:
            own = list(self._own)
        if not own:
            return None
        with transaction.atomic():
            q = (
                QueryQueue.objects.select_for_update(skip_locked=True)
                # Only queries submitted through this server: several local TOMs may share one
                # database, and each keeps its results in its own folder.
                .filter(queryid__in=own, started__isnull=True, finished__isnull=True)
                .order_by("submitted")
                .first()
            )
            if q is None:
                return None
            with connection.cursor() as cur:  # session lock: outlives this transaction
                cur.execute("SELECT pg_advisory_lock(%s)", [_lock_key(q.queryid)])
            q.started = timezone.now()
            q.save(update_fields=["started"])
        with self._own_lock:
            self._own.discard(q.queryid)
        return q

    def adopt(self, queryid) -> None:
        """Run ``queryid`` here: it was submitted through this server (its results live here)."""
        with self._own_lock:
            self._own.add(queryid)

    def _run_one(self) -> bool:
        q = self._claim()
        if q is None:
            return False
        log.info("long query %s started", q.queryid)
        path = self.results_dir / str(q.queryid)
        tmp = path.with_name(path.name + ".part")
        try:
            try:
                columns, n = self._execute(q, tmp)
            except QueryError as exc:
                if str(exc) != "no results to fetch":
                    raise
                raise QueryError(  # desc-tom's runner iterates over fetchall()'s None
                    "'NoneType' object is not iterable (the last statement returned no rows)"
                ) from None
            os.replace(tmp, path)
            q.columns, q.nrows, q.finished = columns, n, timezone.now()
            q.save(update_fields=["columns", "nrows", "finished"])
            log.info("long query %s finished: %d rows", q.queryid, n)
        except Overloaded:  # the user's connections are all busy: back to the queue
            tmp.unlink(missing_ok=True)
            q.started = None
            q.save(update_fields=["started"])
            self.adopt(q.queryid)
            return False
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            q.error, q.errortext, q.finished = True, str(exc), timezone.now()
            q.save(update_fields=["error", "errortext", "finished"])
            log.info("long query %s failed: %s", q.queryid, exc)
        finally:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(q.queryid)])
        return True

    def _execute(self, q, tmp: Path) -> tuple[list[dict[str, str]], int]:
        """Run the query into ``tmp``; its columns and row count. As desc-tom, lists in subdicts
        come back from jsonb as lists and bind as ARRAY[...], and ``numpy`` fails after running."""
        limits = self.ro.limits
        with self.ro.results(
            q.queries, q.subdicts, user_id=q.owner_id, timeout=self.timeout, lists_as_arrays=True
        ) as (columns, batches):
            names = [c["name"] for c in columns]
            if q.format == "csv":
                n = 0
                with tmp.open("w", newline="", encoding="utf-8") as fh:
                    writer = csv.writer(fh, lineterminator="\n")
                    # pandas to_csv layout, as desc-tom: an unnamed index column first; csv writes
                    # None as an empty field and bools as True/False, like pandas.
                    writer.writerow(["", *names])
                    for batch in batches:
                        before = fh.tell()
                        writer.writerows((n + i, *row) for i, row in enumerate(batch))
                        n += len(batch)
                        batches.feedback(fh.tell() - before, len(batch))
                        if fh.tell() > limits.max_result_bytes:
                            raise QueryError(
                                f"the result file is larger than {limits.max_result_bytes} "
                                "bytes, the local TOM's limit for long queries; select fewer "
                                "rows or columns, or split the query"
                            )
                return columns, n
            rows: list[tuple] = []
            for batch in batches:
                rows.extend(batch)
                if len(rows) > limits.max_pandas_rows:
                    raise QueryError(
                        f"more than {limits.max_pandas_rows} rows, the local TOM's limit for "
                        f"format {q.format!r} (built in memory); use format 'csv'"
                    )
        if q.format == "numpy":
            raise QueryError("numpy return format isn't implemented yet")
        import pandas

        frame = pandas.DataFrame(rows, columns=names)
        with tmp.open("wb") as fh:
            pickle.dump(frame, fh)
        return columns, len(frame)
