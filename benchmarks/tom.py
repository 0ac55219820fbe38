"""Benchmark: the local TOM's SQL round trip against psycopg straight to the same database, and a
1e6-row result through ``long_sql`` in bounded client memory.

Usage: ``python benchmarks/tom.py [--sample DIR] [--repeat N] [--rows N]``

Without ``--sample`` (or ``$ELASTICC_TUTORIAL_SAMPLE``) pointing at a built sample, a scratch embedded
cluster with an empty ``tom_desc`` database is used; the small query then reads ``pg_class`` and the
big result comes from ``generate_series`` (it does in any case, so its size is exact). Prints a table
of timings and ratios (no pass/fail: the targets are a round trip within 3x of psycopg and a client
peak memory close to the size of the resulting DataFrame).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
from _sample import sample_or_scratch, timeit

from elasticc_tutorial import pg
from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.tom import TomClient

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from elasticc_tutorial.tom import TomClient
    url, user, pwfile, n, how = sys.argv[1:6]
    c = TomClient(url, username=user, passwordfile=pwfile)
    q = ("SELECT g AS i, g * 0.25 AS x, 'row ' || g AS label "
         "FROM generate_series(1, %(n)s) g")
    def status(key):  # kB, from /proc/self/status
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current RSS
        fh.write("5")
    base = status("VmRSS")
    t0 = time.perf_counter()
    if how == "long_sql":
        df = c.long_sql(q, {"n": int(n)}, poll=0.2, progress=False)
    else:
        df = c.sql(q, {"n": int(n)})
    dt = time.perf_counter() - t0
    peak = status("VmHWM")
    print(json.dumps({"seconds": dt, "rows": df.height, "frame_mb": df.estimated_size() / 2**20,
                      "peak_extra_mb": (peak - base) / 1024}))
    """
)


def child(tom: LocalTom, n: int, how: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, tom.url, tom.username, str(tom.passwordfile), str(n), how],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=os.environ.get("ELASTICC_TUTORIAL_SAMPLE"))
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    sample, source, scratch = sample_or_scratch(args.sample, "tom-bench-")

    with LocalTom(sample) as tom, pg.embedded_server(Path(sample) / "tomdb") as url:
        dburl = url.replace("/postgres?", "/tom_desc?")
        with psycopg.connect(dburl) as conn:
            has_tables = conn.execute(
                "SELECT to_regclass('public.elasticc2_gentypeofclassid') IS NOT NULL"
            ).fetchone()[0]
        if has_tables:
            small = "SELECT classid, gentype, description FROM elasticc2_gentypeofclassid WHERE classid = %(c)s"
            params = {"c": 2222}
        else:
            small = "SELECT relname, relpages FROM pg_class WHERE relname = %(c)s"
            params = {"c": "pg_class"}

        client = TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)
        persistent = psycopg.connect(dburl)

        def direct_persistent():
            with persistent.cursor() as cur:
                cur.execute(small, params)
                cur.fetchall()
            persistent.rollback()

        def direct_connect():
            with psycopg.connect(dburl) as c:
                c.execute(small, params).fetchall()

        def tom_raw():
            client.post("db/runsqlquery/", json={"query": small, "subdict": params}).json()

        def tom_sql():
            client.sql(small, params)

        rows = [
            ("psycopg, open connection", timeit(direct_persistent, args.repeat)),
            ("psycopg, connect per query", timeit(direct_connect, args.repeat)),
            ("local TOM, TomClient.post (HTTP + JSON)", timeit(tom_raw, args.repeat)),
            ("local TOM, TomClient.sql -> polars", timeit(tom_sql, args.repeat)),
        ]
        persistent.close()

        t0 = time.perf_counter()
        with psycopg.connect(dburl) as c:
            c.execute(
                "SELECT g AS i, g * 0.25 AS x, 'row ' || g AS label FROM generate_series(1, %s) g",
                (args.rows,),
            ).fetchall()
        direct_big = time.perf_counter() - t0
        big = child(tom, args.rows, "long_sql")
        fast = child(tom, args.rows, "sql")

    base = rows[0][1]
    print(f"# Local TOM benchmark ({source}); median of {args.repeat} calls")
    print(f"small query: {small}")
    print()
    print(f"| {'path':<42} | {'ms/query':>9} | {'ratio vs psycopg':>16} |")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 18}|")
    for name, t in rows:
        print(f"| {name:<42} | {t * 1e3:>9.2f} | {t / base:>15.1f}x |")
    print()
    print(f"{args.rows:,} rows (generate_series: int, float, text) ")
    print(
        f"| {'path':<42} | {'seconds':>8} | {'DataFrame MB':>12} | {'client peak extra MB':>20} |"
    )
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 14}|{'-' * 22}|")
    print(
        f"| {'psycopg fetchall (tuples, no DataFrame)':<42} | {direct_big:>8.2f} | {'-':>12} | {'-':>20} |"
    )
    for name, r in (
        ("TomClient.long_sql (CSV streamed to disk)", big),
        ("TomClient.sql (one JSON body)", fast),
    ):
        print(
            f"| {name:<42} | {r['seconds']:>8.2f} | {r['frame_mb']:>12.1f} | "
            f"{r['peak_extra_mb']:>20.1f} |"
        )
    if scratch is not None:
        scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
