"""The claims the figures of chapters 06 (TOM web API) and 07 (TOM SQL) make, checked on the data
those figures plot: the book's sample, served by the package's local TOM, queried with plain SQL on
its tables (not through the routes the notebooks call, and not with the notebooks' code)."""

from __future__ import annotations

import polars as pl
import pytest

from elasticc_tutorial import paths, photometry, taxonomy
from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.sample import ALERT_WINDOW
from elasticc_tutorial.tom import TomClient

pytestmark = pytest.mark.slow

# The notebooks' choices (06_tom_api, section 3): the pretend date and how far back to look.
MJD_NOW, DAYS = 61230.0, 5.0
# 06_tom_api, section 5: bins of 10 days from the true peak, kept when they hold >= 50 sources.
BIN_DAYS, MIN_SOURCES = 10, 50


@pytest.fixture(scope="module")
def client():
    sample = paths.locate(tom_url="local", progress=False).sample
    assert sample is not None
    with LocalTom(sample.path) as server:
        yield TomClient(server.url, username=server.username, passwordfile=server.passwordfile)


# -- 06_tom_api: the light curve of the richest SN-like hot transient ---------------------------


def test_hot_supernova_is_rich_and_still_rising_at_mjd_now(client):
    """'At MJD_NOW this supernova was still rising: its brightest point came after', for the
    SN-like object detected in the DAYS before MJD_NOW with the most S/N >= 5 points by then."""
    assert ALERT_WINDOW[0] < MJD_NOW < ALERT_WINDOW[1]
    counts = client.sql(
        """SELECT f.diaobject_id, f.midpointtai, f.psflux, f.psfluxerr
           FROM elasticc2_diaforcedsource f
           JOIN elasticc2_diaobjecttruth t ON t.diaobject_id = f.diaobject_id
           WHERE t.gentype IN %(g)s AND f.diaobject_id IN (
               SELECT diaobject_id FROM elasticc2_diasource
               WHERE midpointtai >= %(t0)s AND midpointtai <= %(t1)s)""",
        {
            "g": taxonomy.gentypes_of_class(2220, "category"),
            "t0": MJD_NOW - DAYS,
            "t1": MJD_NOW,
        },
    )
    detected = photometry.snr_at_least("psflux", "psfluxerr")
    ranked = (
        counts.filter(pl.col("midpointtai") <= MJD_NOW)
        .group_by("diaobject_id")
        .agg(nsnr5=detected.sum())
        .sort(["nsnr5", "diaobject_id"], descending=[True, False])
    )
    assert ranked.height >= 5, "too few SN-like hot transients to make a choice"
    objid = ranked["diaobject_id"][0]
    lc = counts.filter(pl.col("diaobject_id") == objid)
    assert lc.height >= 100, f"object {objid} has only {lc.height} points: not a rich example"
    brightest = lc.filter(detected).sort("psflux", descending=True)["midpointtai"][0]
    assert brightest > MJD_NOW, f"the brightest detection of {objid} is at {brightest}"
    assert lc.filter(detected & (pl.col("midpointtai") <= MJD_NOW)).height >= 10


# -- 06_tom_api: mean probabilities for true SNe Ia vs days from peak ---------------------------


def _binned_mean_probabilities(client: TomClient, classifier_id: int) -> pl.DataFrame:
    """Per 10-day bin of days from the true peak (bins with >= MIN_SOURCES sources) and classId:
    the mean over days of the daily mean probability, from each true SN Ia source's latest
    message of the classifier (desc-tom's meanprobabilities, rebuilt from the raw tables)."""
    rows = client.sql(
        """WITH latest AS (
               SELECT DISTINCT ON (m.diasource_id) m.diasource_id, m.classid, m.probability
               FROM elasticc2_brokermessage m WHERE m.classifier_id = %(cfer)s
               ORDER BY m.diasource_id, m.descingesttimestamp DESC, m.brokermessage_id DESC)
           SELECT s.diasource_id, floor(s.midpointtai - t.peakmjd)::int AS relday,
                  u.classid, u.probability
           FROM elasticc2_ppdbdiasource s
           JOIN elasticc2_diaobjecttruth t ON t.diaobject_id = s.diaobject_id
           JOIN latest l ON l.diasource_id = s.diasource_id
           CROSS JOIN LATERAL unnest(l.classid, l.probability) AS u(classid, probability)
           WHERE t.gentype IN %(g)s AND floor(s.midpointtai - t.peakmjd) BETWEEN -20 AND 90""",
        {"cfer": classifier_id, "g": taxonomy.gentypes_of_class(2222, "exact")},
    ).with_columns(bin=pl.col("relday") // BIN_DAYS * BIN_DAYS)
    kept = (
        rows.group_by("bin")
        .agg(nsources=pl.col("diasource_id").n_unique())
        .filter(pl.col("nsources") >= MIN_SOURCES)
    )
    return (
        rows.group_by("relday", "bin", "classid")
        .agg(pl.col("probability").mean())
        .join(kept, on="bin")
        .group_by("bin", "classid")
        .agg(pl.col("probability").mean())
        .sort("bin", "classid")
    )


def _p(binned: pl.DataFrame, classid: int) -> pl.DataFrame:
    return binned.filter(pl.col("classid") == classid).sort("bin")


def test_ia_dominates_and_grows_with_phase_for_classifier_1(client):
    """Section 5: for true SNe Ia, classifier 1 gives 2222 the highest mean probability in every
    bin, that probability grows bin by bin from before the peak, and the other classes stay low."""
    binned = _binned_mean_probabilities(client, 1)
    bins = binned["bin"].unique().sort().to_list()
    assert len(bins) >= 4 and bins[0] < 0 < bins[-1], f"bins kept: {bins}"
    p_ia = _p(binned, 2222)
    assert p_ia["bin"].to_list() == bins
    best = binned.sort("probability", descending=True).group_by("bin", maintain_order=True).first()
    assert set(best["classid"]) == {2222}, best
    assert (p_ia["probability"].diff().drop_nulls() > 0).all(), p_ia
    others = binned.filter(pl.col("classid") != 2222)
    assert others["probability"].max() < p_ia["probability"].min()


def test_classifier_1_gives_true_sne_ia_the_highest_p_ia(client):
    """Exercise 3: classifier 1's p(Ia) is above the other classifiers' in every bin, it alone
    reaches 0.5, and every classifier's p(Ia) is higher in the last bin than in the first."""
    p_ia = {
        int(c): _p(_binned_mean_probabilities(client, int(c)), 2222)
        for c in client.sql("SELECT classifier_id FROM elasticc2_brokerclassifier")["classifier_id"]
    }
    assert len(p_ia) >= 2 and 1 in p_ia
    for cid, d in p_ia.items():
        assert d["probability"][-1] > d["probability"][0], (cid, d)
        if cid != 1:
            joined = p_ia[1].join(d, on="bin", suffix="_other")
            assert joined.height == d.height
            assert (joined["probability"] > joined["probability_other"]).all(), (cid, joined)
            assert d["probability"].max() < 0.5
    assert p_ia[1]["probability"].max() >= 0.5
