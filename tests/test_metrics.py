"""Broker-classification metrics: exploding message arrays, latest messages, best classes,
coarsening to match levels, confusion matrices, completeness and purity."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from elasticc_tutorial import metrics, taxonomy


def _messages() -> pl.DataFrame:
    t = [datetime(2023, 11, 20, h, tzinfo=UTC) for h in (1, 2, 3, 4)]
    return pl.DataFrame(
        {
            "brokermessage_id": [1, 2, 3, 4],
            "classifier_id": [1, 1, 1, 2],
            "diasource_id": [10, 10, 11, 10],
            "descingesttimestamp": [t[1], t[0], t[2], t[3]],
            "classid": [[2222, 200], [2223, 2222, 200], [300], [2224, 200]],
            "probability": [[0.7, 0.3], [0.5, 0.4, 0.1], [1.0], [0.6, 0.4]],
        },
        schema_overrides={"classid": pl.List(pl.Int16), "probability": pl.List(pl.Float32)},
    )


def test_explode_pairs_classids_with_probabilities():
    out = metrics.explode_classifications(_messages())
    assert out.height == 2 + 3 + 1 + 2
    row = out.filter((pl.col("brokermessage_id") == 2) & (pl.col("classid") == 2222))
    assert row["probability"].to_list() == pytest.approx([0.4])


def test_explode_rejects_arrays_of_different_lengths():
    bad = _messages().with_columns(
        pl.when(pl.col("brokermessage_id") == 3)
        .then(pl.lit([0.5, 0.5], dtype=pl.List(pl.Float32)))
        .otherwise(pl.col("probability"))
        .alias("probability")
    )
    with pytest.raises(ValueError, match="brokermessage_id 3"):
        metrics.explode_classifications(bad)


def test_explode_names_missing_column():
    with pytest.raises(ValueError, match="probability"):
        metrics.explode_classifications(_messages().drop("probability"))


def test_latest_message_per_source_and_classifier_uses_ingest_time():
    out = metrics.latest_messages(_messages())
    # classifier 1 sent two messages for source 10; message 1 was ingested after message 2
    assert out.select("classifier_id", "diasource_id", "brokermessage_id").rows() == [
        (1, 10, 1),
        (1, 11, 3),
        (2, 10, 4),
    ]


def test_best_class_takes_highest_probability_and_breaks_ties_by_classid():
    rows = pl.DataFrame(
        {
            "classifier_id": [1, 1, 1, 2, 2],
            "diaobject_id": [5, 5, 5, 5, 5],
            "classid": [2223, 2222, 200, 2232, 2224],
            "probability": [0.3, 0.6, 0.1, 0.5, 0.5],
        }
    )
    out = metrics.best_class(rows)
    assert out.rows() == [(1, 5, 2222, 0.6), (2, 5, 2224, 0.5)]


@pytest.mark.parametrize(
    ("classid", "level", "expected"),
    [
        (2223, "exact", 2223),
        (2223, "category", 2220),
        (2223, "general", 2200),
        (2223, "broad", 2000),
        (2332, "category", 2330),
        (2220, "exact", 2220),  # less specific than the level: unchanged
        (2200, "category", 2200),
        (200, "broad", 200),  # Meta never coarsens
        (2221, "category", 2221),  # nor does /Other
    ],
)
def test_coarsen(classid, level, expected):
    assert metrics.coarsen(classid, level) == expected


def test_coarsen_rejects_bad_input():
    with pytest.raises(ValueError, match="level must be one of"):
        metrics.coarsen(2222, "approximate")
    with pytest.raises(ValueError, match="not an ELAsTiCC2 classId"):
        metrics.coarsen(2227, "exact")


def test_coarsened_match_agrees_with_the_tom_match_table():
    """A coarsened report matches the truth exactly when the TOM's table says the coarsened classId
    matches the gentype at that level."""
    for gentype, leaf in taxonomy.GENTYPE_TO_CLASSID.items():
        for reported in taxonomy.classids():
            for level in taxonomy.MATCH_LEVELS:
                same = metrics.coarsen(reported, level) == metrics.coarsen(leaf, level)
                ok = taxonomy.is_match(gentype, metrics.coarsen(reported, level), level)
                assert same == ok, (gentype, reported, level)


def _objects() -> pl.DataFrame:
    # gentype 10 = Ia (2222), 20 = Ib/c (2223), 60 = AGN (2332), 71 = lensed Ia (no classId)
    return pl.DataFrame(
        {
            "gentype": [10, 10, 10, 20, 20, 60, 71],
            "classid": [2222, 2223, 200, 2223, 2222, 2332, 2222],
        }
    )


def test_confusion_matrix_exact_counts_and_fractions():
    cm = metrics.confusion_matrix(_objects())
    assert cm.select("true_class", "pred_class", "n").rows() == [
        (2222, 200, 1),
        (2222, 2222, 1),
        (2222, 2223, 1),
        (2223, 2222, 1),
        (2223, 2223, 1),
        (2332, 2332, 1),
    ]
    assert (
        cm.group_by("true_class").agg(pl.col("fraction").sum())["fraction"].to_list()
        == [pytest.approx(1.0)] * 3
    )


def test_confusion_matrix_category_merges_supernovae():
    cm = metrics.confusion_matrix(_objects(), level="category")
    assert cm.select("true_class", "pred_class", "n").rows() == [
        (2220, 200, 1),
        (2220, 2220, 4),
        (2330, 2330, 1),
    ]


def test_completeness_and_purity():
    cp = metrics.completeness_purity(_objects())
    by_class = {r["classid"]: r for r in cp.iter_rows(named=True)}
    ia = by_class[2222]
    assert (ia["n_true"], ia["n_pred"], ia["n_correct"]) == (3, 2, 1)
    assert ia["completeness"] == pytest.approx(1 / 3)
    assert ia["purity"] == pytest.approx(1 / 2)
    assert ia["class_name"] == "Ia"
    assert by_class[2332]["completeness"] == 1.0 and by_class[2332]["purity"] == 1.0
    assert set(by_class) == {2222, 2223, 2332}  # the lensed Ia (gentype 71) is left out


def test_purity_is_null_when_nothing_was_predicted_as_the_class():
    frame = pl.DataFrame({"gentype": [10, 60], "classid": [2332, 2332]})
    cp = metrics.completeness_purity(frame)
    assert cp.filter(pl.col("classid") == 2222)["purity"].to_list() == [None]


def test_true_classid_expression():
    out = pl.DataFrame({"gentype": [10, 71, 82]}).select(metrics.true_classid())
    assert out.to_series().to_list() == [2222, None, 2233]


def test_coarsen_expr_matches_coarsen_and_keeps_nulls():
    frame = pl.DataFrame({"classid": [2223, 2332, 200, None]})
    out = frame.select(metrics.coarsen_expr("classid", "category")).to_series().to_list()
    assert out == [metrics.coarsen(2223, "category"), metrics.coarsen(2332, "category"), 200, None]
    with pytest.raises(pl.exceptions.InvalidOperationError):
        pl.DataFrame({"classid": [2227]}).select(metrics.coarsen_expr("classid", "exact"))


def test_accuracy_at_each_level():
    # exact: 2222->2222, 2223->2223, 2332->2332 right out of 6 mapped objects
    assert metrics.accuracy(_objects()) == pytest.approx(3 / 6)
    # category: every SN report but the Residual one is SN-like
    assert metrics.accuracy(_objects(), level="category") == pytest.approx(5 / 6)
    empty = pl.DataFrame({"gentype": [71], "classid": [2222]})  # no classId for lensed SNe
    assert metrics.accuracy(empty) != metrics.accuracy(empty)  # NaN


def _mix() -> pl.DataFrame:
    # Three true SNe Ia (gentype 10) and one true Ib/c (gentype 20).
    return pl.DataFrame(
        {
            "gentype": [10, 10, 10, 20],
            "classid": [2222, 2222, 2223, 2222],
            "probability": [0.9, 0.6, 0.2, 0.7],
        }
    )


def test_purity_reweighted_to_the_real_class_mix():
    plain = metrics.completeness_purity(_mix())
    assert plain["purity"].to_list() == pytest.approx([2 / 3, 0.0])
    # Real mix: Ib/c three times as common as Ia; the frame has Ia three times as common. Hand
    # computed: weights Ia (1/4)/(3/4) = 1/3, Ib/c (3/4)/(1/4) = 3; purity of 2222 =
    # (2 x 1/3) / (2 x 1/3 + 3) = 2/11. Completeness and counts do not change.
    weighted = metrics.completeness_purity(_mix(), prevalence={2222: 1.0, 2223: 3.0})
    assert weighted["classid"].to_list() == [2222, 2223]
    assert weighted["purity"].to_list() == pytest.approx([2 / 11, 0.0])
    assert weighted.drop("purity").equals(plain.drop("purity"))
    # Only the ratio of the weights matters.
    again = metrics.completeness_purity(_mix(), prevalence={2222: 10.0, 2223: 30.0, 2232: 5.0})
    assert again["purity"].to_list() == pytest.approx([2 / 11, 0.0])
    with pytest.raises(
        metrics.MetricsError, match=r"no weight for the exact classId\(s\) \[2223\]"
    ):
        metrics.completeness_purity(_mix(), prevalence={2222: 1.0})
    with pytest.raises(metrics.MetricsError, match=">= 0"):
        metrics.completeness_purity(_mix(), prevalence={2222: -1.0, 2223: 3.0})


def test_threshold_completeness_and_purity():
    out = metrics.threshold_completeness_purity(_mix(), 2222, [0.5, 0.8, 0.95])
    assert out["threshold"].to_list() == [0.5, 0.8, 0.95]
    assert out["selected"].to_list() == [3, 1, 0]
    assert out["n_true"].to_list() == [3, 3, 3]
    assert out["n_correct"].to_list() == [2, 1, 0]
    assert out["completeness"].to_list() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert out["purity"].to_list()[:2] == pytest.approx([2 / 3, 1.0])
    assert out["purity"][2] is None
    weighted = metrics.threshold_completeness_purity(
        _mix(), 2222, [0.5], prevalence={2222: 1.0, 2223: 3.0}
    )
    assert weighted["purity"].to_list() == pytest.approx([2 / 11])
    # At category level, SN-like (2220) is the target: the Ib/c counts as true too.
    sn = metrics.threshold_completeness_purity(_mix(), 2220, [0.5], level="category")
    assert sn.select("n_true", "n_correct", "purity").row(0) == (4, 3, 1.0)
