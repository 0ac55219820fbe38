"""The long-query runner: a background thread that runs queued ``db_queryqueue`` rows one at a time
(like the real TOM's single ``long_query_runner``), streaming the last query's rows to a CSV file."""

from __future__ import annotations

import csv
import itertools
import logging
import os
import pickle
import threading
from pathlib import Path

from django.db import close_old_connections, transaction
from django.utils import timezone

from elasticc_tutorial.localtom.readonly import QueryError, ReadOnlyDatabase

log = logging.getLogger(__name__)


class LongQueryRunner(threading.Thread):
    """Runs queued long queries as the read-only role; results go to ``results_dir/<queryid>``."""

    def __init__(
        self, ro: ReadOnlyDatabase, results_dir: Path, *, timeout: float = 3600.0, poll: float = 5.0
    ) -> None:
        super().__init__(name="long-query-runner", daemon=True)
        self.ro = ro
        self.results_dir = Path(results_dir)
        self.timeout = timeout
        self.poll = poll
        self._wake = threading.Event()
        self._stopping = threading.Event()

    def wake(self) -> None:
        """Look at the queue now (called on submit) instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                while not self._stopping.is_set() and self._run_one():
                    pass
            except Exception:  # keep the runner alive whatever one query does
                log.exception("long-query runner error")
            finally:
                close_old_connections()
            self._wake.wait(self.poll)
            self._wake.clear()

    def _claim(self):
        from elasticc_tutorial.localtom.models import QueryQueue

        with transaction.atomic():
            q = (
                QueryQueue.objects.select_for_update(skip_locked=True)
                .filter(started__isnull=True, finished__isnull=True)
                .order_by("submitted")
                .first()
            )
            if q is not None:
                q.started = timezone.now()
                q.save(update_fields=["started"])
        return q

    def _run_one(self) -> bool:
        q = self._claim()
        if q is None:
            return False
        log.info("long query %s started", q.queryid)
        path = self.results_dir / str(q.queryid)
        tmp = path.with_name(path.name + ".part")
        try:
            if q.format == "numpy":
                raise QueryError("format 'numpy' is not implemented (as in the real TOM); use csv")
            with self.ro.stream(q.queries, q.subdicts, timeout=self.timeout) as (columns, rows):
                names = [c["name"] for c in columns]
                if q.format == "pandas":
                    import pandas

                    frame = pandas.DataFrame.from_records(list(rows), columns=names)
                    with tmp.open("wb") as fh:
                        pickle.dump(frame, fh)
                    n = len(frame)
                else:
                    counter = itertools.count()
                    with tmp.open("w", newline="", encoding="utf-8") as fh:
                        writer = csv.writer(fh, lineterminator="\n")
                        # pandas to_csv layout, as the real TOM: an unnamed index column first;
                        # csv writes None as an empty field and bools as True/False, like pandas.
                        writer.writerow(["", *names])
                        writer.writerows((next(counter), *row) for row in rows)
                    n = next(counter)
            os.replace(tmp, path)
            q.columns, q.nrows, q.finished = columns, n, timezone.now()
            q.save(update_fields=["columns", "nrows", "finished"])
            log.info("long query %s finished: %d rows", q.queryid, n)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            q.error, q.errortext, q.finished = True, str(exc), timezone.now()
            q.save(update_fields=["error", "errortext", "finished"])
            log.info("long query %s failed: %s", q.queryid, exc)
        return True
