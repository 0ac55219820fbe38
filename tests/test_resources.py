"""book/resources.md: the lib_elasticc2 -> package table names only calls that exist.

Every call of this package in the table's second column (``snana.read_head(...)``,
``photometry.PHOTFLAG_DETECT``, ...) must be an attribute of the named module, and every keyword
argument it passes must be a parameter of that function, so the page cannot go stale.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "resources.md"
MODULES = ("snana", "parquet", "paths", "photometry", "lightcurves", "taxonomy")
CALL = re.compile(rf"\b({'|'.join(MODULES)})\.(\w+)(\((?:[^()]|\([^()]*\))*\))?")


def _split(line: str) -> list[str]:
    """Cells of a markdown table row (no escaped pipes are used in the table)."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def mapping_rows() -> list[tuple[str, str]]:
    """(lib_elasticc2 cell, package cell) of the table whose header starts with lib_elasticc2."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith("| `lib_elasticc2` |")), None
    )
    assert start is not None, f"{PAGE}: no table with a `lib_elasticc2` column"
    assert _split(lines[start]) == ["`lib_elasticc2`", "this package", "differences"]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = _split(line)
        assert len(cells) == 3, f"{PAGE}: row without three cells: {line}"
        rows.append((cells[0], cells[1]))
    return rows


def package_calls(cell: str) -> list[tuple[str, str, str]]:
    """(module, attribute, argument text) of every package call inside the cell's code spans."""
    spans = re.findall(r"`([^`]+)`", cell)
    return [(m.group(1), m.group(2), m.group(3) or "") for s in spans for m in CALL.finditer(s)]


ROWS = mapping_rows()


def test_the_table_covers_the_reader():
    lib = " ".join(lib for lib, _ in ROWS)
    for name in (
        "elasticc2_snana_reader(",
        ".obj_class_names",
        ".get_head(",
        ".get_object_truth(",
        ".get_ltcv(",
        ".get_all_ltcvs(",
        "agg=True, include_header=True",
        ".photflag_detect",
        ".photflag_trigger",
        ".photflag_saturate",
    ):
        assert name in lib, f"{PAGE}: the lib_elasticc2 table lacks {name}"


@pytest.mark.parametrize("lib,ours", ROWS, ids=[lib for lib, _ in ROWS])
def test_every_package_call_exists(lib, ours):
    calls = package_calls(ours)
    if "to_pandas" in ours:
        return  # polars' own method, not the package's
    assert calls, f"{PAGE}: row {lib!r} names no call of the package"
    for module, attr, args in calls:
        mod = importlib.import_module(f"elasticc_tutorial.{module}")
        assert hasattr(mod, attr), f"{PAGE}: elasticc_tutorial.{module} has no {attr!r} ({lib})"
        keywords = re.findall(r"(\w+)=", args)
        if keywords:
            params = inspect.signature(getattr(mod, attr)).parameters
            for kw in keywords:
                assert kw in params, f"{PAGE}: {module}.{attr} takes no {kw}= ({lib})"


def test_the_parser_catches_a_stale_call():
    # the oracle for the test above: a made-up name and a made-up keyword are both found
    calls = package_calls("`snana.read_everything(root, fast=True)` and `photometry.PHOTFLAG_X`")
    assert calls == [
        ("snana", "read_everything", "(root, fast=True)"),
        ("photometry", "PHOTFLAG_X", ""),
    ]
    assert not hasattr(importlib.import_module("elasticc_tutorial.snana"), "read_everything")
