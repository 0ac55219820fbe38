"""What the TOM benchmarks share: what they run against (the built sample's ``tomdb``, else a
scratch cluster) and how they time a call."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def sample_or_scratch(
    sample: Path | None, prefix: str
) -> tuple[Path, str, tempfile.TemporaryDirectory[str] | None]:
    """(sample directory, what it is, the scratch directory to clean up or None): ``sample`` when it
    holds a built ``tomdb``, else a new scratch directory where an empty ``tom_desc`` is made."""
    if sample is not None and (Path(sample) / "tomdb").is_dir():
        return Path(sample), f"sample {sample}", None
    scratch = tempfile.TemporaryDirectory(prefix=prefix)
    return Path(scratch.name), "scratch cluster, empty tom_desc (no sample given)", scratch


def timeit(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
