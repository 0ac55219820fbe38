"""Benchmark the whole-campaign feature extraction: polars streaming vs Dask (1 and 2 workers) vs a
naive eager loop, at growing scales, each measurement in a fresh subprocess (time and peak memory).

    python benchmarks/scale.py [--scales 100 1000 5000] [--repeat 1] [--keep DIR]

For each scale a ``sample build --scale N`` is written to a temporary directory (removed at the end).
Methods (all produce the same feature table, checked against the streaming result):

* ``streaming``: ``scale.features_streaming`` over the Parquet files (one node, out of core);
* ``dask-1``/``dask-2``: ``scale.gather_frames(features_of_unit)`` over the Parquet units on a
  LocalCluster of 1/2 worker processes (the cluster start-up is timed separately);
* ``snana-serial``: the same over the SNANA file pairs, in one process (the FITS + gzip cost);
* ``eager-loop``: read every file whole (all columns) into memory, explode, then a Python loop
  over the objects with numpy (the way not to do it).

Reported: wall time, microseconds per photometry point, time relative to ``streaming`` (ratios in
the same run), peak RSS of the process (Dask: the largest worker too), and the check that 10x the
data costs the streaming path less than 2x the memory. Ends with the estimate for the full campaign
(990 M points) on one Perlmutter CPU node and on N nodes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("streaming", "dask-1", "dask-2", "snana-serial", "eager-loop")


def _eager_loop(root: Path):
    import numpy as np
    import polars as pl

    from elasticc_tutorial.photometry import BANDS
    from elasticc_tutorial.scale import FEATURE_COLUMNS

    frames = [pl.read_parquet(p) for p in sorted((root / "ELASTICC2_parquet").glob("*.parquet"))]
    rows = []
    for df in frames:
        lists = [c for c, t in df.schema.items() if isinstance(t, pl.List)]
        long = df.explode(lists)
        for (snid,), obj in long.group_by("SNID"):
            mjd, band = obj["MJD"].to_numpy(), obj["BAND"].to_numpy()
            flux = obj["FLUXCAL"].to_numpy().astype(float)
            err = obj["FLUXCALERR"].to_numpy().astype(float)
            row = {"SNID": snid, "n_points": len(mjd)}
            row["n_detections"] = int(((obj["PHOTFLAG"].to_numpy() & 4096) != 0).sum())
            for b in BANDS:
                sel = flux[band == b]
                row[f"peak_flux_{b}"] = float(sel.max()) if len(sel) else None
            with np.errstate(divide="ignore", invalid="ignore"):
                bright = mjd[(err > 0) & (flux / err >= 5)]
            row["duration_snr5"] = float(bright.max() - bright.min()) if len(bright) else None
            g, r = row["peak_flux_g"], row["peak_flux_r"]
            ok = g is not None and r is not None and g > 0 and r > 0
            row["colour_gr_peak"] = -2.5 * np.log10(g / r) if ok else None
            rows.append(row)
    return pl.DataFrame(rows).select(FEATURE_COLUMNS).sort("SNID")


def _peak_mb() -> float:
    """Peak RSS of this process image (VmHWM; unlike ru_maxrss it does not carry the parent's
    peak over fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(method: str, root: Path, result: Path) -> None:
    """Run one method once in this (fresh) process; write the features and a JSON line."""
    from elasticc_tutorial import scale

    extra = {}
    t0 = time.perf_counter()
    if method == "streaming":
        out = scale.features_streaming(root / "ELASTICC2_parquet")
    elif method.startswith("dask-"):
        with scale.cluster(int(method[5:]), slurm=False) as client:
            extra["startup_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            units = scale.units(root / "ELASTICC2_parquet")
            out = scale.gather_frames(scale.features_of_unit, units, client)
            extra["worker_peak_mb"] = max(client.run(_peak_mb).values())
    elif method == "snana-serial":
        out = scale.gather_frames(scale.features_of_unit, scale.units(root / "ELASTICC2"))
    elif method == "eager-loop":
        out = _eager_loop(root)
    else:
        raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - t0
    out.write_parquet(result)
    peak = _peak_mb()
    info = {"seconds": seconds, "peak_mb": peak, "points": int(out["n_points"].sum()), **extra}
    print(json.dumps(info))


def run(method: str, root: Path, result: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", method, str(root), str(result)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{method} at {root} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scales", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument(
        "--child", nargs=3, metavar=("METHOD", "ROOT", "RESULT"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return

    import polars as pl

    from elasticc_tutorial import scale
    from elasticc_tutorial.sample import build

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rows = []
    try:
        for n in args.scales:
            t0 = time.perf_counter()
            root = build(work / f"s{n}", scale=n, progress=False)
            print(f"scale {n}: sample built in {time.perf_counter() - t0:.0f} s", flush=True)
            reference = None
            for method in args.methods:
                result = work / f"{method}-{n}.parquet"
                info = run(method, root, result)
                got = pl.read_parquet(result)
                if reference is None:
                    reference = got
                elif not _close(got, reference):
                    raise SystemExit(
                        f"{method} at scale {n}: features differ from {args.methods[0]}"
                    )
                rows.append({"scale": n, "method": method, **info})
                print(f"  {method:13s} {info}", flush=True)
            shutil.rmtree(root)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _report(rows, scale)


def _close(a, b) -> bool:
    import numpy as np

    if a.columns != b.columns or a["SNID"].to_list() != b["SNID"].to_list():
        return False
    return all(
        np.allclose(a[c].to_numpy().astype(float), b[c].to_numpy().astype(float), equal_nan=True)
        for c in a.columns[1:]
    )


def _report(rows: list[dict], scale) -> None:
    base = {r["scale"]: r for r in rows if r["method"] == "streaming"}
    print("\n| scale | points | method | time (s) | µs/point | x streaming | peak RSS (MB) |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        rel = r["seconds"] / base[r["scale"]]["seconds"] if r["scale"] in base else float("nan")
        mem = f"{r['peak_mb']:.0f}"
        if "worker_peak_mb" in r:
            mem += f" (worker {r['worker_peak_mb']:.0f}; start-up {r['startup_s']:.1f} s)"
        print(
            f"| {r['scale']} | {r['points']:,} | {r['method']} | {r['seconds']:.2f} | "
            f"{1e6 * r['seconds'] / r['points']:.2f} | {rel:.1f} | {mem} |"
        )
    scales = sorted(base)
    for small, big in itertools.pairwise(scales):
        data = base[big]["points"] / base[small]["points"]
        memr = base[big]["peak_mb"] / base[small]["peak_mb"]
        verdict = "OK" if data < 10 or memr < 2 else "FAIL"
        print(f"\nstreaming: {data:.1f}x the points cost {memr:.2f}x the peak memory [{verdict}]")
    big = base[scales[-1]]
    cores = os.cpu_count() or 1
    per_point = big["seconds"] * cores / big["points"]  # core-seconds per point (polars uses all)
    print(
        f"\nstreaming at scale {scales[-1]}: {1e6 * per_point:.2f} core-µs per point ({cores} cores)"
    )
    for nodes in (1, 4, 16):
        t = scale.campaign_seconds(per_point, nodes=nodes)
        print(f"  990 M points on {nodes:2d} Perlmutter node(s): ~{t:.0f} s (80% efficiency)")
    ser = [r for r in rows if r["method"] == "snana-serial" and r["scale"] == scales[-1]]
    if ser:
        sp = ser[0]["seconds"] / ser[0]["points"]
        for nodes in (1, 4, 16):
            t = scale.campaign_seconds(sp, nodes=nodes)
            print(f"  from SNANA FITS.gz (one process), {nodes:2d} node(s): ~{t:.0f} s")


if __name__ == "__main__":
    main()
