"""Benchmark: the local TOM under concurrent load, its memory under oversized queries, and a small
query's round trip against psycopg on the same database.

Usage: ``python benchmarks/tom_load.py [--sample DIR] [--requests N] [--repeat N]``

Without ``--sample`` (or ``$ELASTICC_TUTORIAL_SAMPLE``) holding a built ``tomdb``, a scratch embedded
cluster with an empty ``tom_desc`` database is used (the queries read ``pg_class`` and
``generate_series``, which exist everywhere). Prints one table; targets: zero 5xx other than 503
with Retry-After at every level, server peak RSS < 300 MB under four concurrent oversized queries,
a small query within 1.3x of psycopg with a connection per query (the ratio to an open psycopg
connection is reported too). Clients run as threads in this process, on the same machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import requests
from _sample import sample_or_scratch, timeit

from elasticc_tutorial import pg
from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.tom import TomClient

SMALL = "SELECT relname, relpages FROM pg_class WHERE relname = %(c)s"
PARAMS = {"c": "pg_class"}
OVERSIZED = [
    "SELECT generate_series(1, 1e8::bigint) AS g",  # past the row limit
    "SELECT repeat('x', 100000) AS s FROM generate_series(1, 3000)",  # past the byte limit
]


def login(tom: LocalTom) -> requests.Session:
    c = TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)
    s = requests.Session()
    s.cookies.update(c._rqs.cookies)
    s.headers.update({"X-CSRFToken": c._rqs.cookies["csrftoken"]})
    return s


def load(tom: LocalTom, session: requests.Session, clients: int, total: int) -> dict:
    """``clients`` threads share ``total`` small queries; throughput, latencies, status counts."""
    per_client = max(1, total // clients)
    latencies: list[float] = []
    codes: Counter = Counter()
    bad_503 = 0
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def one() -> None:
        nonlocal bad_503
        s = requests.Session()
        s.cookies.update(session.cookies)
        s.headers.update(session.headers)
        barrier.wait()
        for _ in range(per_client):
            t0 = time.perf_counter()
            try:
                r = s.post(
                    f"{tom.url}/db/runsqlquery/",
                    json={"query": SMALL, "subdict": PARAMS},
                    timeout=120,
                )
                code = r.status_code
                ok = code != 200 or r.json()["status"] == "ok"
                missing_retry = code == 503 and not r.headers.get("Retry-After")
            except requests.RequestException:
                code, ok, missing_retry = "error", False, False
            dt = time.perf_counter() - t0
            with lock:
                codes[code if ok else f"{code}-bad"] += 1
                bad_503 += missing_retry
                if code == 200:
                    latencies.append(dt)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "clients": clients,
        "requests": clients * per_client,
        "per_s": codes[200] / wall,
        "p50": latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else float("nan"),
        "ok": codes[200],
        "503": codes[503],
        "other": sum(v for k, v in codes.items() if k not in (200, 503)) + bad_503,
    }


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def oversized(tom: LocalTom, session: requests.Session) -> tuple[float, float, list[str]]:
    """Server RSS before, and peak RSS during, four concurrent oversized queries; their errors."""
    pid = tom._proc.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak to the current RSS
    before = peak_rss_mb(pid)
    errors: list[str] = []

    def one(q: str) -> None:
        r = session.post(f"{tom.url}/db/runsqlquery/", json={"query": q}, timeout=300)
        errors.append(r.json().get("error", "no error!")[:60])

    threads = [threading.Thread(target=one, args=(OVERSIZED[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return before, peak_rss_mb(pid), errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=Path, default=os.environ.get("ELASTICC_TUTORIAL_SAMPLE"))
    parser.add_argument("--requests", type=int, default=1024, help="small queries per level")
    parser.add_argument("--repeat", type=int, default=200, help="round trips per latency path")
    args = parser.parse_args()

    sample, source, scratch = sample_or_scratch(args.sample, "tom-load-")

    with LocalTom(sample) as tom, pg.embedded_server(Path(sample) / "tomdb") as url:
        dburl = url.replace("/postgres?", "/tom_desc?")
        session = login(tom)
        levels = [load(tom, session, n, args.requests) for n in (8, 32, 128)]
        before, peak, errors = oversized(tom, session)

        persistent = psycopg.connect(dburl)

        def open_conn():
            persistent.execute(SMALL, PARAMS).fetchall()
            persistent.rollback()

        def connect_per_query():
            with psycopg.connect(dburl) as c:
                c.execute(SMALL, PARAMS).fetchall()

        def tom_query():
            r = session.post(f"{tom.url}/db/runsqlquery/", json={"query": SMALL, "subdict": PARAMS})
            assert r.json()["status"] == "ok"

        t_open = timeit(open_conn, args.repeat) * 1e3
        t_connect = timeit(connect_per_query, args.repeat) * 1e3
        t_tom = timeit(tom_query, args.repeat) * 1e3
        persistent.close()

    print(f"# Local TOM load benchmark ({source}, {os.cpu_count()} CPUs, clients in-process)")
    print(f"small query: {SMALL} {PARAMS}")
    print()
    print("| clients | requests | 200/s | p50 ms | p99 ms | 200 | 503+Retry-After | other |")
    print("|--------:|---------:|------:|-------:|-------:|----:|----------------:|------:|")
    for r in levels:
        print(
            f"| {r['clients']} | {r['requests']} | {r['per_s']:.0f} | {r['p50'] * 1e3:.1f} | "
            f"{r['p99'] * 1e3:.1f} | {r['ok']} | {r['503']} | {r['other']} |"
        )
    print()
    print("| four concurrent oversized queries | value |")
    print("|---|---:|")
    print(f"| server RSS before (MB) | {before:.0f} |")
    print(f"| server peak RSS during (MB), target < 300 | {peak:.0f} |")
    for e in sorted(set(errors)):
        print(f"| error | {e}... |")
    print()
    print("| small query round trip | ms (median) | local TOM / this |")
    print("|---|---:|---:|")
    print(f"| local TOM runsqlquery (HTTP, JSON) | {t_tom:.2f} | 1.00 |")
    print(
        f"| psycopg, connection per query (target: ratio <= 1.3) | {t_connect:.2f} | {t_tom / t_connect:.2f} |"
    )
    print(f"| psycopg, open connection | {t_open:.2f} | {t_tom / t_open:.2f} |")
    if scratch is not None:
        scratch.cleanup()
    return 0 if all(r["other"] == 0 for r in levels) else 1


if __name__ == "__main__":
    sys.exit(main())
