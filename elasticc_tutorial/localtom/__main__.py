"""Subprocess entry of :class:`elasticc_tutorial.localtom.LocalTom` (prints one READY line as JSON)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from elasticc_tutorial.localtom import DB_URL_ENV, KEEP_LOG_ENV, READY, hang_up_as_terminate
from elasticc_tutorial.localtom.server import ServerInfo, serve


def _stop_when_orphaned(parent: int, tmp: str) -> None:
    """Stop this server (as by SIGTERM) once the process that started it is gone, however it
    ended: a killed notebook or ``lab`` must not leave a TOM (and its PostgreSQL) behind, nor its
    scratch directory (our log) in ``tmp``."""
    from elasticc_tutorial.rundir import RUN_PREFIX, remove_stale

    while os.getppid() == parent:
        time.sleep(0.5)
    if not os.environ.get(KEEP_LOG_ENV):
        remove_stale(tmp, RUN_PREFIX)
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m elasticc_tutorial.localtom")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--credentials-file", type=Path)
    parser.add_argument("--sql-timeout", type=float, default=60.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    from elasticc_tutorial.rundir import process_dir

    tmp = tempfile.gettempdir()
    tempfile.tempdir = str(process_dir())  # query results: removed at exit, even after a kill
    threading.Thread(target=_stop_when_orphaned, args=(os.getppid(), tmp), daemon=True).start()
    hang_up_as_terminate()

    def ready(info: ServerInfo) -> None:
        print(READY + json.dumps(info.to_json()), flush=True)

    serve(
        args.data,
        port=args.port,
        database_url=os.environ.get(DB_URL_ENV),
        credentials_file=args.credentials_file,
        on_ready=ready,
        verbose=args.verbose,
        sql_timeout=args.sql_timeout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
