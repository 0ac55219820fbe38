"""The ELAsTiCC2 classification taxonomy: classIds, SNANA gentypes, model names and match levels.

Brokers classify with *classIds* (a four-digit hierarchy, one power of ten per level); the simulation's
truth tables carry SNANA *gentypes*; the files are organised by SNANA *model* (directory) name. This
module holds the three and the maps between them, exactly as the DESC TOM stores them in
``elasticc2_gentypeofclassid`` and ``elasticc2_classidofgentype`` (tom_desc migration 0016) and as the
``elasticc2/classids`` endpoint returns them.

Match levels, as the TOM defines them for a (true gentype, reported classId) pair:

* ``exact``: the classId is the gentype's leaf class (e.g. 2222 for gentype 10);
* ``category``: the classId is the leaf or its tens-level parent (2220 SN-like for a Ia);
* ``general``: ... or its hundreds-level parent (2200 Non-Recurring);
* ``broad``: ... or the thousands-level root (2000 Variable).

Meta (0, 100, 200, 300), Static (1000, 1100) and every ``/Other`` class never match anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from elasticc_tutorial.errors import ElasticcTutorialError

__all__ = [
    "CLASSES",
    "GENTYPE_TO_CLASSID",
    "MATCH_LEVELS",
    "MODEL_GENTYPES",
    "TaxonomyClass",
    "TaxonomyError",
    "class_name",
    "classid_of_gentype_table",
    "classid_of_model",
    "classids",
    "coarsen",
    "gentype_of_classid_table",
    "gentype_of_model",
    "gentypes_of_class",
    "is_match",
    "leaf_classid",
    "level",
    "parent",
    "tree_text",
]


class TaxonomyError(ElasticcTutorialError, ValueError):
    """A classId, gentype, model name or match level that is not in the ELAsTiCC2 taxonomy."""


MatchLevel = Literal["exact", "category", "general", "broad"]
MATCH_LEVELS: tuple[MatchLevel, ...] = ("exact", "category", "general", "broad")


@dataclass(frozen=True)
class TaxonomyClass:
    """One node of the classId tree."""

    classid: int
    name: str
    parent: (
        int | None
    )  # None for the roots (Meta, Static, Variable hang off the unnamed "Alert" root)


_TREE: tuple[tuple[int, str, int | None], ...] = (
    (0, "Meta", None),
    (100, "Meta/Other", 0),
    (200, "Residual", 0),
    (300, "NotClassified", 0),
    (1000, "Static", None),
    (1100, "Static/Other", 1000),
    (2000, "Variable", None),
    (2100, "Variable/Other", 2000),
    (2200, "Non-Recurring", 2000),
    (2210, "Non-Recurring/Other", 2200),
    (2220, "SN-like", 2200),
    (2221, "SN-like/Other", 2220),
    (2222, "Ia", 2220),
    (2223, "Ib/c", 2220),
    (2224, "II", 2220),
    (2225, "Iax", 2220),
    (2226, "91bg", 2220),
    (2230, "Fast", 2200),
    (2231, "Fast/Other", 2230),
    (2232, "KN", 2230),
    (2233, "M-dwarf Flare", 2230),
    (2234, "Dwarf Novae", 2230),
    (2235, "uLens", 2230),
    (2240, "Long", 2200),
    (2241, "Long/Other", 2240),
    (2242, "SLSN", 2240),
    (2243, "TDE", 2240),
    (2244, "ILOT", 2240),
    (2245, "CART", 2240),
    (2246, "PISN", 2240),
    (2300, "Recurring", 2000),
    (2310, "Recurring/Other", 2300),
    (2320, "Periodic", 2300),
    (2321, "Periodic/Other", 2320),
    (2322, "Cepheid", 2320),
    (2323, "RR Lyrae", 2320),
    (2324, "Delta Scuti", 2320),
    (2325, "EB", 2320),
    (2326, "LPV/Mira", 2320),
    (2330, "Non-Periodic", 2300),
    (2331, "Non-Periodic/Other", 2330),
    (2332, "AGN", 2330),
)

#: All 42 ELAsTiCC2 classIds, keyed by classId.
CLASSES: dict[int, TaxonomyClass] = {c: TaxonomyClass(c, n, p) for c, n, p in _TREE}

#: The 31 SNANA gentypes the TOM maps, to their exact (leaf) classId.
GENTYPE_TO_CLASSID: dict[int, int] = {
    10: 2222,
    11: 2226,
    12: 2225,
    **dict.fromkeys((20, 21, 25, 26, 27), 2223),
    **dict.fromkeys((30, 31, 32, 35, 36, 37), 2224),
    **dict.fromkeys((50, 51), 2232),
    82: 2233,
    84: 2234,
    **dict.fromkeys((87, 88, 89), 2235),
    40: 2242,
    42: 2243,
    45: 2244,
    46: 2245,
    59: 2246,
    90: 2322,
    80: 2323,
    91: 2324,
    83: 2325,
    60: 2332,
}

#: The 38 ELAsTiCC2 SNANA model (directory) names and the gentype of each (``elasticc_origmap.txt``).
#: PISN-STELLA_* and SL-* carry gentypes that the TOM does not map to any classId.
MODEL_GENTYPES: dict[str, int] = {
    "AGN": 60,
    "CART": 46,
    "Cepheid": 90,
    "EB": 83,
    "ILOT": 45,
    "KN_B19": 51,
    "KN_K17": 50,
    "Mdwarf-flare": 82,
    "PISN-MOSFIT": 59,
    "PISN-STELLA_HECORE": 57,
    "PISN-STELLA_HYDROGENIC": 58,
    "RRL": 80,
    "SL-SN1a": 71,
    "SL-SNII": 72,
    "SL-SNIb": 73,
    "SL-SNIc": 74,
    "SLSN-I+host": 40,
    "SLSN-I_no_host": 40,
    "SNII+HostXT_V19": 32,
    "SNII-NMF": 30,
    "SNII-Templates": 31,
    "SNIIb+HostXT_V19": 37,
    "SNIIn+HostXT_V19": 36,
    "SNIIn-MOSFIT": 35,
    "SNIa-91bg": 11,
    "SNIa-SALT3": 10,
    "SNIax": 12,
    "SNIb+HostXT_V19": 21,
    "SNIb-Templates": 20,
    "SNIc+HostXT_V19": 26,
    "SNIc-Templates": 25,
    "SNIcBL+HostXT_V19": 27,
    "TDE": 42,
    "d-Sct": 91,
    "dwarf-nova": 84,
    "uLens-Binary": 89,
    "uLens-Single-GenLens": 88,
    "uLens-Single_PyLIMA": 87,
}


def _check(classid: int) -> TaxonomyClass:
    try:
        return CLASSES[int(classid)]
    except KeyError:
        raise TaxonomyError(
            f"classid {classid!r} is not an ELAsTiCC2 classId; expected one of {sorted(CLASSES)}"
        ) from None


def classids() -> list[int]:
    """All 42 classIds in increasing order."""
    return sorted(CLASSES)


def class_name(classid: int) -> str:
    """The taxonomy's name for ``classid`` (e.g. ``2222 -> "Ia"``)."""
    return _check(classid).name


def parent(classid: int) -> int | None:
    """The parent classId, or None for the roots Meta (0), Static (1000) and Variable (2000)."""
    return _check(classid).parent


def level(classid: int) -> Literal["meta", "thousands", "hundreds", "tens", "ones"]:
    """How specific a classId is: the lowest non-zero power of ten (0 is ``"meta"``)."""
    _check(classid)
    if classid == 0:
        return "meta"
    for digits, name in ((1, "ones"), (10, "tens"), (100, "hundreds")):
        if (classid // digits) % 10:
            return name  # type: ignore[return-value]
    return "thousands"


_level_of = level  # the public name is shadowed by the ``level`` arguments below


def _is_other(classid: int) -> bool:
    return CLASSES[classid].name.endswith("/Other") or classid < 2000


def _ancestors(classid: int) -> list[int]:
    out = [classid]
    while (p := CLASSES[out[-1]].parent) is not None:
        out.append(p)
    return out


def leaf_classid(gentype: int) -> int:
    """The exact classId of a SNANA gentype (e.g. ``20 -> 2223`` Ib/c)."""
    try:
        return GENTYPE_TO_CLASSID[int(gentype)]
    except KeyError:
        raise TaxonomyError(
            f"gentype {gentype!r} has no ELAsTiCC2 classId; the TOM maps only "
            f"{sorted(GENTYPE_TO_CLASSID)}"
        ) from None


def gentype_of_model(model: str) -> int:
    """The SNANA gentype of an ELAsTiCC2 model directory name (e.g. ``"SNIa-SALT3" -> 10``)."""
    try:
        return MODEL_GENTYPES[model]
    except KeyError:
        raise TaxonomyError(
            f"unknown ELAsTiCC2 model {model!r}; expected one of {sorted(MODEL_GENTYPES)}"
        ) from None


def classid_of_model(model: str) -> int:
    """The exact classId of an ELAsTiCC2 model directory name (e.g. ``"KN_K17" -> 2232``)."""
    return leaf_classid(gentype_of_model(model))


# The taxonomy level each match level compares at, from the most to the least specific.
_MATCH_DEPTH = {"exact": "ones", "category": "tens", "general": "hundreds", "broad": "thousands"}
_SPECIFICITY = ("ones", "tens", "hundreds", "thousands")


def _check_level(match_level: str) -> MatchLevel:
    if match_level not in MATCH_LEVELS:
        raise TaxonomyError(f"level must be one of {MATCH_LEVELS}, got {match_level!r}")
    return match_level


def coarsen(classid: int, level: MatchLevel) -> int:
    """``classid`` reduced to its ancestor at match ``level`` (``2223 -> 2220`` at ``"category"``).

    Classes already less specific than the level, Meta/Static classes and ``/Other`` classes are
    returned unchanged (they never match anything).
    """
    target = _SPECIFICITY.index(_MATCH_DEPTH[_check_level(level)])
    _check(classid)
    cid = int(classid)
    if _is_other(cid):
        return cid
    for ancestor in _ancestors(cid):
        if _SPECIFICITY.index(_level_of(ancestor)) >= target:
            return ancestor
    return cid


def is_match(gentype: int, classid: int, level: MatchLevel = "exact") -> bool:
    """Whether reporting ``classid`` for an object of true ``gentype`` is a match at ``level``:
    ``classid`` is the gentype's leaf class or one of its ancestors up to that level (another
    leaf, even a sibling, never matches; Meta, Static and ``/Other`` classes never match).

    Same answer as a lookup in the TOM's ``elasticc2_classidofgentype`` table.
    """
    _check_level(level)
    _check(classid)
    leaf = GENTYPE_TO_CLASSID.get(int(gentype))
    if leaf is None or _is_other(classid):
        return False
    chain = _ancestors(leaf)  # leaf, category (tens), general (hundreds), broad (thousands)
    return classid in chain[: MATCH_LEVELS.index(level) + 1]


def gentypes_of_class(classid: int, level: MatchLevel = "category") -> list[int]:
    """The SNANA gentypes whose objects ``classid`` matches at ``level``, sorted
    (``gentypes_of_class(2220)``: every SN-like gentype)."""
    return sorted(g for g in GENTYPE_TO_CLASSID if is_match(g, classid, level))


def classid_of_gentype_table() -> pl.DataFrame:
    """The rows of ``elasticc2_classidofgentype``: one per (gentype, classId) pair that matches at
    any level, with the four boolean flags and the class description."""
    rows = []
    for gentype, leaf in sorted(GENTYPE_TO_CLASSID.items()):
        for depth, cid in enumerate(_ancestors(leaf)):
            rows.append(
                {
                    "gentype": gentype,
                    "classid": cid,
                    "exactmatch": depth == 0,
                    "categorymatch": depth <= 1,
                    "generalmatch": depth <= 2,
                    "broadmatch": True,
                    "description": CLASSES[cid].name,
                }
            )
    return pl.DataFrame(rows).sort("classid", "gentype")


def gentype_of_classid_table() -> pl.DataFrame:
    """The rows of ``elasticc2_gentypeofclassid``: each mapped gentype with its exact classId, plus
    one row with a null gentype for every classId that no SNANA model produces."""
    mapped = [
        {"classid": c, "gentype": g, "description": CLASSES[c].name}
        for g, c in sorted(GENTYPE_TO_CLASSID.items())
    ]
    unmapped = [
        {"classid": c, "gentype": None, "description": CLASSES[c].name}
        for c in sorted(CLASSES)
        if c not in set(GENTYPE_TO_CLASSID.values())
    ]
    return pl.DataFrame(
        mapped + unmapped,
        schema={"classid": pl.Int32, "gentype": pl.Int32, "description": pl.String},
    ).sort("classid", "gentype", nulls_last=True)


def tree_text() -> str:
    """The classId tree as indented text, one ``classId name`` per line, with gentypes on leaves."""
    by_class: dict[int, list[int]] = {}
    for g, c in GENTYPE_TO_CLASSID.items():
        by_class.setdefault(c, []).append(g)
    lines: list[str] = ["Alert"]

    def walk(cid: int, depth: int) -> None:
        gts = by_class.get(cid)
        suffix = f"  (gentype {', '.join(map(str, sorted(gts)))})" if gts else ""
        lines.append(f"{'    ' * depth}{cid:>4d} {CLASSES[cid].name}{suffix}")
        for child in sorted(c for c, t in CLASSES.items() if t.parent == cid):
            walk(child, depth + 1)

    for root in (0, 1000, 2000):
        walk(root, 1)
    return "\n".join(lines)
