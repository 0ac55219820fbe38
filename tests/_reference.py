"""Where the real ELAsTiCC2 1% training files are (reference data beside the repository, never in it).

The project's ``../shared/reference/elasticc2-train-1percent`` (CI has it too), or the directory named
by ``ELASTICC2_REFERENCE_DIR``. Tests that need it are marked ``needs_real``: skipped on a developer
machine without it, but an error under CI, where their silence would hide a broken reader.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL = Path(
    os.environ.get("ELASTICC2_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2] / "shared/reference/elasticc2-train-1percent"
)

if not REAL.is_dir() and os.environ.get("CI"):
    raise RuntimeError(
        f"the real ELAsTiCC2 reference files are missing at {REAL}: CI must run with ../shared beside "
        "the repository (or set ELASTICC2_REFERENCE_DIR)"
    )

needs_real = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"real ELAsTiCC2 1% reference files not found at {REAL}"
)
