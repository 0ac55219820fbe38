"""elasticc_tutorial.taxonomy against the reference tables (formats.md §1.1 and §1.4).

Every expected value below is typed from the reference, not generated from the module."""

from __future__ import annotations

import polars as pl
import pytest

from elasticc_tutorial import taxonomy

# formats.md §1.1: classId, name, parent (None = hangs off the unnamed root).
TREE = [
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
]

# formats.md §1.4 (c): leaf classId -> gentypes.
LEAF_GENTYPES = {
    2222: [10],
    2223: [20, 21, 25, 26, 27],
    2224: [30, 31, 32, 35, 36, 37],
    2225: [12],
    2226: [11],
    2232: [50, 51],
    2233: [82],
    2234: [84],
    2235: [87, 88, 89],
    2242: [40],
    2243: [42],
    2244: [45],
    2245: [46],
    2246: [59],
    2322: [90],
    2323: [80],
    2324: [91],
    2325: [83],
    2332: [60],
}

ALL_31 = [10, 11, 12, 20, 21, 25, 26, 27, 30, 31, 32, 35, 36, 37, 40, 42, 45, 46, 50, 51, 59, 60,
          80, 82, 83, 84, 87, 88, 89, 90, 91]  # fmt: skip

# formats.md §1.4 (c), non-leaf rows: classId -> (gentypes, (exact, category, general, broad)).
NON_LEAF = {
    2000: (ALL_31, (False, False, False, True)),
    2200: (
        [
            10,
            11,
            12,
            20,
            21,
            25,
            26,
            27,
            30,
            31,
            32,
            35,
            36,
            37,
            40,
            42,
            45,
            46,
            50,
            51,
            59,
            82,
            84,
            87,
            88,
            89,
        ],
        (False, False, True, True),
    ),
    2220: ([10, 11, 12, 20, 21, 25, 26, 27, 30, 31, 32, 35, 36, 37], (False, True, True, True)),
    2230: ([50, 51, 82, 84, 87, 88, 89], (False, True, True, True)),
    2240: ([40, 42, 45, 46, 59], (False, True, True, True)),
    2300: ([60, 80, 83, 90, 91], (False, False, True, True)),
    2320: ([80, 83, 90, 91], (False, True, True, True)),
    2330: ([60], (False, True, True, True)),
}

# formats.md §1.4 (c): classIds with a NULL gentype in elasticc2_gentypeofclassid.
UNMAPPED = [0, 100, 200, 300, 1000, 1100, 2000, 2100, 2200, 2210, 2220, 2221, 2230, 2231, 2240,
            2241, 2300, 2310, 2320, 2321, 2326, 2330, 2331]  # fmt: skip

# formats.md §1.4 (a)/(b): directory name -> gentype for the training files we hold, and a few more.
MODEL_GENTYPES = {"SNIb-Templates": 20, "KN_K17": 50, "Mdwarf-flare": 82, "SNIa-SALT3": 10,
                  "AGN": 60, "CART": 46, "ILOT": 45, "SLSN-I+host": 40, "SLSN-I_no_host": 40,
                  "d-Sct": 91, "uLens-Single_PyLIMA": 87}  # fmt: skip

ELASTICC2_DIRS = """AGN CART Cepheid EB ILOT KN_B19 KN_K17 Mdwarf-flare PISN-MOSFIT PISN-STELLA_HECORE
PISN-STELLA_HYDROGENIC RRL SL-SN1a SL-SNII SL-SNIb SL-SNIc SLSN-I+host SLSN-I_no_host
SNII+HostXT_V19 SNII-NMF SNII-Templates SNIIb+HostXT_V19 SNIIn+HostXT_V19 SNIIn-MOSFIT
SNIa-91bg SNIa-SALT3 SNIax SNIb+HostXT_V19 SNIb-Templates SNIc+HostXT_V19 SNIc-Templates
SNIcBL+HostXT_V19 TDE d-Sct dwarf-nova uLens-Binary uLens-Single-GenLens uLens-Single_PyLIMA""".split()  # noqa: SIM905


def test_tree():
    assert len(TREE) == 42
    assert taxonomy.classids() == [c for c, _, _ in TREE]
    for cid, name, parent in TREE:
        assert taxonomy.class_name(cid) == name
        assert taxonomy.parent(cid) == parent
        assert taxonomy.CLASSES[cid].name == name


def test_levels():
    assert taxonomy.level(0) == "meta"
    assert taxonomy.level(2000) == "thousands"
    assert taxonomy.level(2300) == "hundreds"
    assert taxonomy.level(2320) == "tens"
    assert taxonomy.level(2322) == "ones"
    with pytest.raises(ValueError, match="2227"):
        taxonomy.class_name(2227)


def test_gentype_map():
    expected = {g: c for c, gs in LEAF_GENTYPES.items() for g in gs}
    assert sorted(expected) == ALL_31
    assert expected == taxonomy.GENTYPE_TO_CLASSID
    for g, c in expected.items():
        assert taxonomy.leaf_classid(g) == c
    for unmapped in (57, 58, 71, 72, 73, 74, 98):
        with pytest.raises(ValueError, match=str(unmapped)):
            taxonomy.leaf_classid(unmapped)


def test_models():
    assert sorted(taxonomy.MODEL_GENTYPES) == sorted(ELASTICC2_DIRS)
    assert len(ELASTICC2_DIRS) == 38
    for model, gentype in MODEL_GENTYPES.items():
        assert taxonomy.gentype_of_model(model) == gentype
    assert taxonomy.classid_of_model("KN_K17") == 2232
    assert taxonomy.classid_of_model("SNIb-Templates") == 2223
    assert taxonomy.classid_of_model("Mdwarf-flare") == 2233
    with pytest.raises(ValueError, match="SNIa-SALT2"):
        taxonomy.gentype_of_model("SNIa-SALT2")


def _expected_flags(gentype: int, classid: int) -> tuple[bool, bool, bool, bool]:
    if classid in LEAF_GENTYPES:
        hit = gentype in LEAF_GENTYPES[classid]
        return (hit, hit, hit, hit)
    if classid in NON_LEAF:
        gentypes, flags = NON_LEAF[classid]
        return flags if gentype in gentypes else (False, False, False, False)
    return (False, False, False, False)


def test_is_match_every_pair():
    for gentype in [*ALL_31, 57, 71, 98]:
        for classid, _, _ in TREE:
            got = tuple(taxonomy.is_match(gentype, classid, lvl) for lvl in taxonomy.MATCH_LEVELS)
            assert got == _expected_flags(gentype, classid), (gentype, classid)
    with pytest.raises(ValueError, match="level"):
        taxonomy.is_match(10, 2222, "partial")


def test_classid_of_gentype_table():
    table = taxonomy.classid_of_gentype_table()
    expected = []
    for classid, gentypes in LEAF_GENTYPES.items():
        expected += [(g, classid, True, True, True, True) for g in gentypes]
    for classid, (gentypes, flags) in NON_LEAF.items():
        expected += [(g, classid, *flags) for g in gentypes]
    got = table.select(
        "gentype", "classid", "exactmatch", "categorymatch", "generalmatch", "broadmatch"
    ).rows()
    assert sorted(got) == sorted(expected)
    assert table.filter(pl.col("classid") == 2332)["description"].to_list() == ["AGN"]


def test_gentype_of_classid_table():
    table = taxonomy.gentype_of_classid_table()
    mapped = table.filter(pl.col("gentype").is_not_null())
    assert sorted(mapped.select("gentype", "classid").rows()) == sorted(
        (g, c) for c, gs in LEAF_GENTYPES.items() for g in gs
    )
    assert mapped["gentype"].is_unique().all()
    assert table.filter(pl.col("gentype").is_null())["classid"].to_list() == UNMAPPED


def test_tree_text():
    text = taxonomy.tree_text()
    assert text.splitlines()[0] == "Alert"
    assert "2223 Ib/c  (gentype 20, 21, 25, 26, 27)" in text
    assert len([line for line in text.splitlines()[1:] if line.strip()]) == 42


def test_coarsen_and_gentypes_of_class():
    assert [taxonomy.coarsen(2223, lv) for lv in taxonomy.MATCH_LEVELS] == [2223, 2220, 2200, 2000]
    assert taxonomy.coarsen(2220, "exact") == 2220  # already less specific than the level
    assert taxonomy.coarsen(2221, "broad") == 2221  # /Other never coarsens
    assert taxonomy.coarsen(200, "broad") == 200
    with pytest.raises(taxonomy.TaxonomyError, match="level"):
        taxonomy.coarsen(2222, "partial")
    # Independent oracle: the SN-like gentypes written out from the TOM's table (reference).
    assert taxonomy.gentypes_of_class(2220) == [
        10,
        11,
        12,
        20,
        21,
        25,
        26,
        27,
        30,
        31,
        32,
        35,
        36,
        37,
    ]
    assert taxonomy.gentypes_of_class(2222, "exact") == [10]
    assert taxonomy.gentypes_of_class(2230) == [50, 51, 82, 84, 87, 88, 89]
    assert taxonomy.gentypes_of_class(2222, "broad") == [10]
    assert taxonomy.gentypes_of_class(2200, "category") == []
