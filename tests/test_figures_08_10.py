"""The claims that chapters 08 (broker metrics) and 10 (be a broker) make about their figures and
tables, checked on the sample's broker messages with the package, independently of the notebooks.

The messages come from the local TOM on the sample (``tom.connect()`` starts it; the session's
``pytest_sessionfinish`` stops it), with the chapter's query: one row per message with its source's
time and its object's truth.
"""

from __future__ import annotations

import polars as pl
import pytest

from elasticc_tutorial import metrics, scale, taxonomy
from elasticc_tutorial.sample import scaling_table
from elasticc_tutorial.tom import connect
from elasticc_tutorial.tom.connection import stop_local_tom

QUERY = """SELECT m.brokermessage_id, m.classifier_id, m.diasource_id, s.diaobject_id, s.midpointtai,
                  t.gentype, t.peakmjd, m.descingesttimestamp, m.classid, m.probability
           FROM elasticc2_brokermessage m
           JOIN elasticc2_ppdbdiasource s ON s.diasource_id = m.diasource_id
           JOIN elasticc2_diaobjecttruth t ON t.diaobject_id = s.diaobject_id"""


@pytest.fixture(scope="module")
def tom():
    # the TOM connect() starts lives as long as this Python process would; stop it with the
    # module, so later tests (lab's lifecycle) find the sample's PostgreSQL unused
    yield connect(quiet=True)
    stop_local_tom()


@pytest.fixture(scope="module")
def classifier_ids(tom) -> dict[str, int]:
    """'forest', 'net', 'binary' -> classifier_id, found by the sample classifiers' names."""
    by_name = {v["classifiername"]: int(k) for k, v in tom.classifiers().items()}
    pick = {"forest": "SampleForest", "net": "SampleNet", "binary": "SampleIa"}
    return {
        key: next(cid for name, cid in by_name.items() if name.startswith(prefix))
        for key, prefix in pick.items()
    }


@pytest.fixture(scope="module")
def latest(tom) -> pl.DataFrame:
    return metrics.latest_messages(tom.sql(QUERY), per=("classifier_id", "diasource_id"))


@pytest.fixture(scope="module")
def objects(latest) -> pl.DataFrame:
    """Top class at each object's last alert, per classifier, with the truth."""
    last = metrics.latest_messages(
        latest, per=("classifier_id", "diaobject_id"), order_by=("midpointtai", "brokermessage_id")
    )
    truth = latest.select("diaobject_id", "gentype").unique("diaobject_id")
    return (
        metrics.best_class(metrics.explode_classifications(last))
        .join(truth, on="diaobject_id")
        .with_columns(metrics.true_classid("gentype").alias("true_classid"))
    )


def test_every_alert_sent_was_classified_by_every_classifier(tom, latest):
    sent = tom.sql(
        "SELECT count(*) AS n FROM elasticc2_ppdbalert WHERE alertsenttimestamp IS NOT NULL"
    )["n"][0]
    per_classifier = latest.group_by("classifier_id").agg(pl.col("diasource_id").n_unique())
    assert per_classifier.height == 3
    assert per_classifier["diasource_id"].to_list() == [sent] * 3


def test_exact_level_mistakes_stay_in_family_for_supernovae_and_periodic_only(
    objects, classifier_ids
):
    wrong = (
        objects.filter(pl.col("classifier_id") == classifier_ids["forest"])
        .drop_nulls("true_classid")
        .filter(pl.col("classid") != pl.col("true_classid"))
        .with_columns(
            metrics.coarsen_expr("true_classid", "category").alias("true_cat"),
            metrics.coarsen_expr("classid", "category").alias("called_cat"),
        )
    )
    same = dict(
        wrong.group_by("true_cat")
        .agg((pl.col("called_cat") == pl.col("true_cat")).mean().alias("same"))
        .iter_rows()
    )
    assert same[2220] > 0.5 and same[2320] > 0.5  # SN-like, Periodic: mostly within the family
    assert same[2230] < 0.5 and same[2240] < 0.5  # Fast, Long: mostly out of it
    # the out-of-family calls of Fast and Long transients are mostly SN-like
    out = wrong.filter(
        pl.col("true_cat").is_in([2230, 2240]) & (pl.col("called_cat") != pl.col("true_cat"))
    )
    assert (out["called_cat"] == 2220).mean() > 0.5
    # a SN Ia is most often mistaken for a 91bg
    ia_calls = wrong.filter(pl.col("true_classid") == 2222)["classid"].value_counts(sort=True)
    assert ia_calls["classid"][0] == 2226


def _p_true(latest: pl.DataFrame) -> pl.DataFrame:
    transients = taxonomy.gentypes_of_class(2200, "general")
    return (
        metrics.explode_classifications(latest.filter(pl.col("gentype").is_in(transients)))
        .with_columns(metrics.true_classid("gentype").alias("true_classid"))
        .group_by("brokermessage_id", "classifier_id", "gentype", "midpointtai", "peakmjd")
        .agg(
            pl.col("probability")
            .filter(pl.col("classid") == pl.col("true_classid"))
            .sum()
            .alias("p_true")
        )
        .with_columns((pl.col("midpointtai") - pl.col("peakmjd")).alias("days"))
        .filter(pl.col("days").is_between(-20, 90))
    )


def test_probability_of_true_class_grows_until_weeks_after_peak(latest, classifier_ids):
    p_true = _p_true(latest)
    panels = {"transients": pl.lit(True), "Ia": pl.col("gentype") == 10}
    means = {}
    for panel, sel in panels.items():
        for key, cid in classifier_ids.items():
            part = p_true.filter(sel & (pl.col("classifier_id") == cid))
            before = part.filter(pl.col("days") < 0)["p_true"].mean()
            after = part.filter(pl.col("days").is_between(10, 30))["p_true"].mean()
            means[panel, key] = (before, after)
    for panel in panels:
        for key in ("forest", "net"):
            before, after = means[panel, key]
            assert after > before + 0.05, (panel, key, before, after)
        # the best classifier is ahead of the second throughout
        assert means[panel, "forest"][0] > means[panel, "net"][1]
    before, after = means["Ia", "binary"]
    assert after > before  # its p(Ia) grows on true SNe Ia
    assert max(means["transients", "binary"]) < 0.1  # near zero over all transients
    # the bins after +35 d hold few SN Ia messages: at most a dozen per 5-day bin
    late = p_true.filter((pl.col("gentype") == 10) & (pl.col("days") > 35))
    per_bin = late.group_by("classifier_id", (pl.col("days") / 5).floor()).len()["len"]
    assert per_bin.max() <= 15


def _prevalence() -> dict[int, int]:
    """Real objects per exact classId: published/inferred counts, the rest of the campaign's
    objects shared equally by the models without a count."""
    models = scaling_table()
    known = models.drop_nulls("campaign_count")
    share = (scale.CAMPAIGN["objects"] - known["campaign_count"].sum()) / (
        models.height - known.height
    )
    counts = (
        models.drop_nulls("classid")
        .group_by("classid")
        .agg(pl.col("campaign_count").fill_null(round(share)).sum())
    )
    return dict(counts.iter_rows())


def test_prevalence_uses_the_published_counts():
    prevalence = _prevalence()
    assert prevalence[2222] == 1_705_217
    assert prevalence[2332] == 108_556
    assert prevalence[2245] == 8_926
    assert prevalence[2244] == 1_143
    assert sum(prevalence.values()) < scale.CAMPAIGN["objects"]  # lensed SNe etc. have no class


def test_campaign_mix_raises_ia_purity_and_sinks_rare_classes(objects, classifier_ids):
    forest = objects.filter(pl.col("classifier_id") == classifier_ids["forest"])
    sample = metrics.completeness_purity(forest)
    campaign = metrics.completeness_purity(forest, prevalence=_prevalence())
    purity = dict(sample.select("classid", "purity").iter_rows())
    reweighted = dict(campaign.select("classid", "purity").iter_rows())
    assert reweighted[2222] > purity[2222]
    for rare in (2244, 2245):  # ILOT, CART: dramatically lower
        assert reweighted[rare] < purity[rare] / 2
    # completeness does not depend on the mix
    assert sample["completeness"].to_list() == campaign["completeness"].to_list()
    # SN Ia is a larger share of the campaign than of the sample
    labelled = forest.drop_nulls("true_classid")
    prevalence = _prevalence()
    assert prevalence[2222] / sum(prevalence.values()) > ((labelled["true_classid"] == 2222).mean())
