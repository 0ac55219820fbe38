"""Benchmark the readers: SNANA light curves and Avro alert decoding, against the usual baselines.

Prints one table per dataset, all measured in this run. SNANA columns:

* ``ours``: ``elasticc_tutorial.snana.read_lightcurves`` (every model, HEAD pointers + PHOT -> one
  polars long table, separators dropped);
* ``sncosmo``: ``sncosmo.read_snana_fits`` per HEAD/PHOT pair (one astropy Table per object);
* ``astropy loop``: astropy ``Table`` of each object's PTROBS slice, object by object;
* ``astropy raw``: ``astropy.io.fits`` opens every HEAD and PHOT file and touches the table data,
  with no conversion at all;
* ``gzip floor``: decompressing the same files and nothing else.

Each measurement runs in a fresh subprocess, so its peak memory (``ru_maxrss`` minus the RSS
before the measurement) is its own. Rows: the real ELAsTiCC2 1 % training files and, with
``--scale N``, a sample built by ``elasticc_tutorial.sample.build(..., scale=N)`` (N objects per
model; ``--scale-dir`` reuses a built one). Alerts: ``elasticc_tutorial.alerts.iter_alerts``
against a bare ``tarfile`` + ``fastavro.schemaless_reader`` loop over the same tar(s).

Targets: ours >= 10x faster than sncosmo and <= 3x the gzip floor at >= 1e5 objects; ours faster
than astropy raw on the 1 % files; alert decoding <= 1.3x the bare fastavro loop.

The ``scaling`` table (issue 13) reads one large model (the real 1 % files tiled ``--tile`` times,
40 HEAD/PHOT pairs) with the reader's default threads and with one thread, against decompressing
the same files single-threaded with zlib (the floor) and with ISA-L, and the naive per-object
astropy loop; then the memory ratio: peak RSS during the read over the RSS the result holds
(target <= 1.5), and the RSS left after dropping one model and reading the next. Targets: the
reader with 2 threads faster than the single-threaded zlib floor.

    python benchmarks/readers.py                   # 1 % files, scaling table, synthetic alert tar
    python benchmarks/readers.py --scale 5000      # + a 21 x 5000 = 105,000-object sample
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

REAL = Path(
    os.environ.get("ELASTICC2_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2] / "shared/reference/elasticc2-train-1percent"
)
METHODS = ("ours", "sncosmo", "astropy_loop", "astropy_raw", "gzip_floor")
SCALING = (
    "ours",
    "ours_1thread",
    "gzip_floor",
    "gzip_isal",
    "astropy_loop",
    "memory",
    "two_models",
)
LABELS = {
    "ours": "ours",
    "sncosmo": "sncosmo",
    "astropy_loop": "astropy loop",
    "astropy_raw": "astropy raw",
    "gzip_floor": "gzip floor",
    "ours_1thread": "ours, 1 thread",
    "gzip_isal": "ISA-L inflate",
    "alerts_ours": "ours (iter_alerts)",
    "alerts_bare": "bare fastavro loop",
    "alerts_tables": "ours + alert_tables",
}


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _frame_bytes(frame) -> int:
    """The bytes a frame's columns occupy: numbers as stored; a String column 16 bytes of view
    per row plus the bytes of the strings too long (> 12) to sit inside their view (polars'
    estimated_size() undercounts views)."""
    import polars as pl

    total = 0
    for s in frame.iter_columns():
        if s.dtype == pl.String:
            lengths = s.str.len_bytes()
            total += 16 * len(s) + int(lengths.filter(lengths > 12).sum() or 0)
        else:
            total += s.estimated_size()
    return total


def _pairs(root: Path) -> list[tuple[Path, Path]]:
    from elasticc_tutorial import snana

    out = []
    for model in snana.list_models(root):
        out += [(p.head, p.phot) for p in snana.file_pairs(snana.model_dir(root, model))]
    return out


# ---- one measurement (runs in a subprocess) ------------------------------------------------------


def _prepare_snana(method: str, root: Path) -> Callable[[], int]:
    """Imports and file listing happen here, outside the timed call, which returns the number of
    photometry points produced (the gzip floor returns minus the bytes inflated)."""
    import numpy as np
    from astropy.io import fits
    from astropy.table import Table

    from elasticc_tutorial import snana

    pairs = _pairs(root)
    models = snana.list_models(root)
    if method == "ours":
        return lambda: sum(snana.read_lightcurves(root, m).height for m in models)
    if method == "sncosmo":
        import sncosmo

        return lambda: sum(
            len(t) for h, p in pairs for t in sncosmo.read_snana_fits(str(h), str(p))
        )
    if method == "astropy_loop":

        def loop() -> int:
            n = 0
            for h, p in pairs:
                with fits.open(h) as hh, fits.open(p) as ph:
                    head, phot = hh[1].data, ph[1].data
                    for lo, hi in zip(head["PTROBS_MIN"], head["PTROBS_MAX"], strict=True):
                        n += len(Table(np.asarray(phot[int(lo) - 1 : int(hi)])))
            return n

        return loop
    if method == "astropy_raw":

        def raw() -> int:
            n = 0
            for h, p in pairs:
                for path in (h, p):
                    with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
                        data = np.asarray(hdul[1].data)
                        if path == p:
                            n += len(data)
            return n

        return raw
    if method == "ours_1thread":
        return lambda: sum(snana.read_lightcurves(root, m, threads=1).height for m in models)
    if method in ("gzip_floor", "gzip_isal"):
        if method == "gzip_isal":
            from isal import isal_zlib as lib
        else:
            lib = zlib

        def floor() -> int:
            n = 0
            for h, p in pairs:
                for path in (h, p):
                    data = path.read_bytes()
                    n += len(lib.decompress(data, 31) if data[:2] == b"\x1f\x8b" else data)
            return -n

        return floor
    if method in ("memory", "two_models"):
        # Warm up (imports, thread pool, allocator) on one file of another model first, so the
        # baseline holds everything but the data.
        snana.read_lightcurves_file(snana.file_pairs(snana.model_dir(root, models[-1]))[0].head)

    if method == "memory":
        # One model: the RSS the result holds vs the peak RSS of the read.
        def memory() -> tuple[int, dict]:
            base = _rss_kib()
            frame = snana.read_lightcurves(root, models[0])
            held = _rss_kib() - base
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
            return frame.height, {
                "held_mib": held / 1024,
                "read_peak_mib": peak / 1024,
                "frame_mib": _frame_bytes(frame) / 2**20,
            }

        return memory
    if method == "two_models":
        # Read a model, drop it, read the next: what the first leaves behind.
        def two() -> tuple[int, dict]:
            import gc

            base = _rss_kib()
            first = snana.read_lightcurves(root, models[0])
            held = _rss_kib() - base
            n = first.height
            del first
            gc.collect()
            left = _rss_kib() - base
            n += snana.read_lightcurves(root, models[1]).height
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
            return n, {
                "held_mib": held / 1024,
                "left_mib": left / 1024,
                "both_peak_mib": peak / 1024,
            }

        return two
    raise ValueError(method)


def _prepare_alerts(method: str, tars: list[Path]) -> Callable[[], int]:
    import fastavro

    from elasticc_tutorial import alerts
    from elasticc_tutorial.schema import load_schema

    if method == "alerts_bare":
        schema = load_schema("alert")

        def bare() -> int:
            n = 0
            for p in tars:
                with tarfile.open(p, "r|") as tar:
                    for member in tar:
                        fastavro.schemaless_reader(tar.extractfile(member), schema, None)
                        n += 1
            return n

        return bare
    if method == "alerts_ours":
        return lambda: sum(1 for _ in alerts.iter_alerts(tars))
    if method == "alerts_tables":
        return lambda: alerts.alert_tables(alerts.iter_alerts(tars)).alerts.height
    raise ValueError(method)


def _child(method: str, target: str) -> None:
    if method.startswith("alerts_"):
        run = _prepare_alerts(method, [Path(p) for p in json.loads(target)])
    else:
        run = _prepare_snana(method, Path(target))
    before = _rss_kib()
    t0 = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - t0
    n, extra = out if isinstance(out, tuple) else (out, {})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {"seconds": seconds, "n": n, "peak_mib": max(peak - before, 0) / 1024, **extra}
    print(json.dumps(result))


def measure(method: str, target: str, repeat: int) -> dict:
    """Best of ``repeat`` fresh-process runs (warm file cache)."""
    best = None
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--child", method, target],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


# ---- tables --------------------------------------------------------------------------------------


def snana_table(name: str, root: Path, repeat: int, skip: set[str]) -> None:
    from elasticc_tutorial import snana

    models = snana.list_models(root)
    n_obj = sum(snana.read_head(root, m, columns=["SNID"]).height for m in models)
    n_files = 2 * len(_pairs(root))
    print(f"\n## {name}: {len(models)} models, {n_files} files, {n_obj:,} objects")
    results = {}
    for method in METHODS:
        if method in skip:
            continue
        results[method] = measure(method, str(root), repeat)
    points = results["ours"]["n"]
    floor = results.get("gzip_floor", {}).get("seconds")
    sncosmo_s = results.get("sncosmo", {}).get("seconds")
    print(f"{points:,} photometry points; {-results['gzip_floor']['n'] / 2**20:,.1f} MiB inflated")
    print(
        f"| {'reader':<13} | {'seconds':>8} | {'points/s':>11} | {'peak MiB':>8} | "
        f"{'x gzip floor':>12} | {'sncosmo / this':>14} |"
    )
    print(f"|{'-' * 15}|{'-' * 10}:|{'-' * 12}:|{'-' * 9}:|{'-' * 13}:|{'-' * 15}:|")
    for method, r in results.items():
        s = r["seconds"]
        rate = points / s
        ratio = f"{s / floor:.2f}" if floor else "-"
        vs = f"{sncosmo_s / s:.1f}" if sncosmo_s else "-"
        print(
            f"| {LABELS[method]:<13} | {s:8.3f} | {rate:11,.0f} | {r['peak_mib']:8.1f} | "
            f"{ratio:>12} | {vs:>14} |"
        )


def tiled_tree(real: Path, out: Path, tile: int, model: str = "SNIb-Templates") -> Path:
    """A tree of two copies (models ``A`` and ``B``) of one real model, each of its 40 HEAD/PHOT
    pairs tiled ``tile`` times: PHOT rows (separators included) repeated, pointers shifted, SNIDs
    made unique. Written with astropy, gzipped like the originals."""
    import gzip

    import numpy as np
    from astropy.io import fits

    from elasticc_tutorial import snana

    pairs = snana.file_pairs(snana.model_dir(real, model))
    for c, copy in enumerate(("A", "B")):
        directory = out / f"BENCH_{copy}"
        directory.mkdir(parents=True, exist_ok=True)
        for pair in pairs:
            with fits.open(pair.head) as hh, fits.open(pair.phot) as ph:
                head, phot = np.asarray(hh[1].data), np.asarray(ph[1].data)
                snid = head["SNID"].astype(np.int64)
                heads = []
                for k in range(tile):
                    h = head.copy()
                    h["PTROBS_MIN"] += k * len(phot)
                    h["PTROBS_MAX"] += k * len(phot)
                    new = snid + (c * tile + k) * 10**8
                    h["SNID"] = np.char.ljust(new.astype("S16"), 16)
                    heads.append(h)
                tables = (
                    (hh, fits.BinTableHDU(np.concatenate(heads), name="Header"), pair.head.name),
                    (ph, fits.BinTableHDU(np.tile(phot, tile), name="Photometry"), pair.phot.name),
                )
                for hdul, hdu, name in tables:
                    buf = io.BytesIO()
                    fits.HDUList([fits.PrimaryHDU(header=hdul[0].header), hdu]).writeto(buf)
                    stem = name.replace("ELASTICC2_TRAIN_01_1percent_", f"BENCH_{copy}-")
                    (directory / stem).write_bytes(gzip.compress(buf.getvalue(), 6))
    return out


def scaling_table(root: Path, repeat: int) -> None:
    from elasticc_tutorial import snana

    pairs = snana.file_pairs(snana.model_dir(root, "A"))
    mib = sum(p.phot.stat().st_size + p.head.stat().st_size for p in pairs) / 2**20
    results = {m: measure(m, str(root), 1 if m in ("astropy_loop", "two_models") else repeat)
               for m in SCALING}  # fmt: skip
    points = results["ours"]["n"]
    print(f"\n## scaling (issue 13): 2 models of {len(pairs)} pairs, {mib:.1f} MiB gzipped each, "
          f"{points:,} points in all")  # fmt: skip
    floor = results["gzip_floor"]["seconds"]
    print(f"| {'reader':<16} | {'seconds':>8} | {'x zlib floor':>12} | {'peak MiB':>8} |")
    print(f"|{'-' * 18}|{'-' * 10}:|{'-' * 13}:|{'-' * 9}:|")
    for m in ("ours", "ours_1thread", "gzip_floor", "gzip_isal", "astropy_loop"):
        r = results[m]
        print(f"| {LABELS[m]:<16} | {r['seconds']:8.3f} | {r['seconds'] / floor:12.2f} | "
              f"{r['peak_mib']:8.1f} |")  # fmt: skip
    ours, one = results["ours"]["seconds"], results["ours_1thread"]["seconds"]
    loop = results["astropy_loop"]["seconds"]
    mem, two = results["memory"], results["two_models"]
    print(f"ratios: ours ({snana.default_threads(len(pairs))} threads) / zlib floor = {ours / floor:.2f} "
          f"(target < 1); 1 thread / {snana.default_threads(len(pairs))} threads = {one / ours:.2f}; "
          f"ISA-L / zlib inflate = {results['gzip_isal']['seconds'] / floor:.2f}; "
          f"astropy loop / ours = {loop / ours:.1f}")  # fmt: skip
    print(f"memory, one model: peak RSS of the read {mem['read_peak_mib']:.1f} MiB / the frame's "
          f"columns {mem['frame_mib']:.1f} MiB = {mem['read_peak_mib'] / mem['frame_mib']:.2f} "
          f"(target <= 1.5); RSS still held after the read {mem['held_mib']:.1f} MiB")  # fmt: skip
    print(f"two models in turn: the first holds {two['held_mib']:.1f} MiB and leaves "
          f"{two['left_mib']:.1f} MiB once dropped; peak over both reads "
          f"{two['both_peak_mib']:.1f} MiB = {two['both_peak_mib'] / mem['read_peak_mib']:.2f} x "
          "one model's peak")  # fmt: skip


def _synthetic_alert_tar(directory: Path, n_alerts: int) -> list[Path]:
    """A night tar of ``n_alerts`` schemaless alerts with 10 prvDiaSources + 30 forced sources."""
    import fastavro

    from elasticc_tutorial.photometry import BANDS
    from elasticc_tutorial.schema import load_schema

    schema = load_schema("alert")
    obj_fields = [f["name"] for f in load_schema("diaObject")["fields"]]
    path = directory / "60300.tar"
    with tarfile.open(path, "w") as tar:
        for i in range(n_alerts):
            oid = 1000 + i // 20

            def src(k: int, oid: int = oid) -> dict:
                return {"diaSourceId": oid * 100000 + k, "diaObjectId": oid,
                        "midPointTai": 60300.0 + k * 0.1, "filterName": BANDS[k % 6],
                        "ra": 1.0, "decl": -2.0, "psFlux": 100.0 + k, "psFluxErr": 5.0,
                        "snr": 20.0}  # fmt: skip

            obj = dict.fromkeys(obj_fields, 0.5)
            obj.update(diaObjectId=oid, simVersion="bench", ra=1.0, decl=-2.0)
            alert = {
                "alertId": oid * 100000 + 50 + i,
                "diaSource": src(50 + i % 20),
                "prvDiaSources": [src(k) for k in range(10)],
                "prvDiaForcedSources": [
                    {
                        "diaForcedSourceId": oid * 100000 + k,
                        "diaObjectId": oid,
                        "midPointTai": 60290.0 + k,
                        "filterName": "r",
                        "psFlux": 1.0,
                        "psFluxErr": 5.0,
                    }
                    for k in range(30)
                ],
                "diaObject": obj,
            }
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, schema, alert)
            info = tarfile.TarInfo(f"{alert['alertId']}.avro")
            info.size = buf.tell()
            buf.seek(0)
            tar.addfile(info, buf)
    return [path]


def alerts_table(name: str, tars: list[Path], repeat: int) -> None:
    target = json.dumps([str(p) for p in tars])
    results = {
        m: measure(m, target, repeat) for m in ("alerts_bare", "alerts_ours", "alerts_tables")
    }
    n = results["alerts_bare"]["n"]
    size = sum(p.stat().st_size for p in tars) / 2**20
    print(f"\n## alerts: {name}: {len(tars)} tar(s), {n:,} alerts, {size:,.1f} MiB")
    print(
        f"| {'decoder':<20} | {'seconds':>8} | {'alerts/s':>9} | {'peak MiB':>8} | {'x bare':>6} |"
    )
    print(f"|{'-' * 22}|{'-' * 10}:|{'-' * 10}:|{'-' * 9}:|{'-' * 7}:|")
    bare = results["alerts_bare"]["seconds"]
    for method, r in results.items():
        s = r["seconds"]
        print(
            f"| {LABELS[method]:<20} | {s:8.3f} | {n / s:9,.0f} | {r['peak_mib']:8.1f} | "
            f"{s / bare:6.2f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "TARGET"), help=argparse.SUPPRESS)
    parser.add_argument("--real", type=Path, default=REAL, help="the real 1%% SNANA tree")
    parser.add_argument("--scale", type=int, help="build a sample with this many objects per model")
    parser.add_argument("--scale-dir", type=Path, help="reuse a sample built with --scale")
    parser.add_argument("--skip-slow", action="store_true",
                        help="skip sncosmo and the astropy loop on the scale sample")  # fmt: skip
    parser.add_argument("--alerts", type=int, default=20000, help="synthetic alerts if no sample")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--tile", type=int, default=30,
                        help="scaling table: tile the real SNIb-Templates files this many times")  # fmt: skip
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0

    print(f"# reader benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"python {sys.version.split()[0]})")  # fmt: skip
    if args.real.is_dir():
        snana_table("real ELAsTiCC2 1% training files", args.real, args.repeat, set())
        if args.tile:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                tree = tiled_tree(args.real, Path(tmp), args.tile)
                print(f"\n(tiled tree x{args.tile} written in {time.perf_counter() - t0:.0f} s)")
                scaling_table(tree, args.repeat)
    else:
        print(f"\n(real 1% files not found at {args.real}: skipped)")

    sample_dir = args.scale_dir
    if sample_dir is None and args.scale:
        try:
            from elasticc_tutorial.sample import build
        except ImportError as exc:
            print(f"\n(scale sample skipped: elasticc_tutorial.sample.build unavailable: {exc})")
        else:
            sample_dir = Path(tempfile.mkdtemp(prefix="elasticc-bench-")) / "sample"
            t0 = time.perf_counter()
            build(sample_dir, scale=args.scale, progress=False)
            print(f"\n(built the scale sample in {time.perf_counter() - t0:.0f} s: {sample_dir})")
    if sample_dir is not None:
        skip = {"sncosmo", "astropy_loop"} if args.skip_slow else set()
        snana_table(f"scale sample {sample_dir.name}", sample_dir / "ELASTICC2", 1, skip)
        tars = sorted((sample_dir / "ELASTICC2_ALERTS").glob("*.tar"))
        if tars:
            alerts_table(f"sample {sample_dir.name}", tars, args.repeat)

    with tempfile.TemporaryDirectory() as tmp:
        tars = _synthetic_alert_tar(Path(tmp), args.alerts)
        alerts_table("synthetic (10 prvDiaSources + 30 forced each)", tars, args.repeat)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
