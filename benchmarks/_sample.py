"""What the TOM benchmarks run against: the built sample's ``tomdb``, else a scratch cluster."""

from __future__ import annotations

import tempfile
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
