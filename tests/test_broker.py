"""elasticc_tutorial.broker on a small sample built by the tests.

Leakage is tested by perturbation (points after an alert's time change nothing) and against an
independent view: the history an alert carries must equal the one cut from the complete SNANA light
curve, so training (cuts) and classification (alerts) see the same numbers.
"""

from __future__ import annotations

import io
import tarfile
import threading
import time

import fastavro
import numpy as np
import polars as pl
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sklearn.tree import DecisionTreeClassifier

from elasticc_tutorial import alerts, broker, pg, snana, taxonomy
from elasticc_tutorial.broker.features import LightCurve, features, history_from_alert
from elasticc_tutorial.errors import TomError
from elasticc_tutorial.sample import build
from elasticc_tutorial.schema import load_schema
from elasticc_tutorial.tom import TomClient

pytestmark = pytest.mark.slow

SEED = 7


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build(tmp_path_factory.mktemp("brokersample") / "s", objects_per_model=2, progress=False)


@pytest.fixture(scope="module")
def train_dir(sample):
    return sample / "ELASTICC2_TRAINING_SAMPLE_2"


@pytest.fixture(scope="module")
def table(train_dir):
    return broker.training_table(train_dir, max_cuts=8)


@pytest.fixture(scope="module")
def model(table):
    return broker.train(table, seed=SEED, n_splits=2)


@pytest.fixture(scope="module")
def stream(sample):
    nights = list(broker.iter_nights(sample / "ELASTICC2_ALERTS"))
    return [a for n in nights for a in n.alerts], np.concatenate([n.publish_ms for n in nights])


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


# ------------------------------------------------------------------------------------ leakage


def test_training_cuts_ignore_later_points(train_dir):
    rng = np.random.default_rng(0)
    checked = changed_by_past = 0
    for snid, _model, _gentype, _peak, lc in broker.light_curves(train_dir):
        for i in lc.alert_points():
            h = lc.history_at(int(i))
            assert h.mjd.max() <= h.mjd_now == lc.mjd[i]
            base = features(h)
            later = lc.mjd > lc.mjd[i]
            if not later.any():
                continue
            scale = np.where(later, rng.uniform(-50, 50, lc.mjd.size), 1.0)
            perturbed = LightCurve(
                lc.mjd,
                lc.band,
                lc.flux * scale + np.where(later, 1e4, 0.0),
                lc.fluxerr * np.where(later, 0.01, 1.0),
                lc.detected | later,
                lc.host_z,
            )
            assert _same(features(perturbed.history_at(int(i))), base), (snid, i)
            checked += 1
            # the oracle can fail: perturbing an *earlier* point does change the features
            earlier = lc.mjd < lc.mjd[i]
            if earlier.any():
                flux = lc.flux.copy()
                flux[np.flatnonzero(earlier)[-1]] += 1e6
                moved = LightCurve(lc.mjd, lc.band, flux, lc.fluxerr, lc.detected, lc.host_z)
                changed_by_past += not _same(features(moved.history_at(int(i))), base)
    assert checked > 50
    assert changed_by_past > 0


def test_alert_features_ignore_anything_later(stream):
    alert_list, _ = stream
    later_point = {
        "diaForcedSourceId": 1,
        "diaObjectId": 1,
        "filterName": "r",
        "psFlux": 1e7,
        "psFluxErr": 1.0,
    }
    for a in alert_list:
        h = history_from_alert(a)
        now = a["diaSource"]["midPointTai"]
        assert h.mjd_now == now and h.mjd.max() <= now
        tampered = dict(a)
        tampered["prvDiaForcedSources"] = [
            *(a["prvDiaForcedSources"] or []),
            {**later_point, "midPointTai": now + 1.0},
        ]
        assert _same(features(history_from_alert(tampered)), features(h))


def test_alert_history_equals_the_cut_training_view(sample, stream):
    """Independent oracle: the alert's history, from the complete SNANA light curve of the test set."""
    alert_list, _ = stream
    root = sample / "ELASTICC2"
    curves = {}
    for model in snana.list_models(root):
        frame = snana.read_lightcurves(
            root,
            model,
            columns=["MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR"],
            include_head=True,
            agg=True,
        )
        for row in frame.iter_rows(named=True):
            curves[row["SNID"]] = LightCurve.from_snana(
                row["MJD"],
                row["BAND"],
                row["FLUXCAL"],
                row["FLUXCALERR"],
                row["PHOTFLAG"],
                row["HOSTGAL_PHOTOZ"],
                where=str(row["SNID"]),
            )
    assert alert_list
    for a in alert_list:
        snid, point = divmod(a["diaSource"]["diaSourceId"], 100_000)
        from_alert = history_from_alert(a)
        cut = curves[snid].history_at(point)
        np.testing.assert_array_equal(from_alert.mjd, cut.mjd)
        np.testing.assert_array_equal(from_alert.band, cut.band)
        np.testing.assert_array_equal(from_alert.detected, cut.detected)
        np.testing.assert_allclose(from_alert.flux, cut.flux, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(from_alert.host_z, cut.host_z, rtol=1e-5)


# ------------------------------------------------------------------------ training, determinism


def test_training_table_labels_and_shape(table, train_dir):
    assert table.columns[6:] == list(broker.FEATURE_NAMES)
    leaves = set(taxonomy.GENTYPE_TO_CLASSID.values())
    assert set(table["classid"].unique()) <= leaves
    assert (
        table.select(
            pl.col("gentype").replace_strict(taxonomy.GENTYPE_TO_CLASSID) == pl.col("classid")
        )
        .to_series()
        .all()
    )
    assert table.group_by("SNID").len()["len"].max() <= 8


def test_same_seed_same_model(table, model, stream):
    again = broker.train(table, seed=SEED, n_splits=2)
    X = broker.Broker(model).features(stream[0][:300])
    p = model.predict_proba(X)
    np.testing.assert_array_equal(p, again.predict_proba(X))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert set(model.classes) <= set(taxonomy.GENTYPE_TO_CLASSID.values())


def test_too_few_objects_per_class_is_refused(table):
    with pytest.raises(ValueError, match="fewer than n_splits=50"):
        broker.train(table, seed=SEED, n_splits=50)


# ------------------------------------------------------------------------------------ messages


def test_messages_decode_with_the_schema(model, stream, tmp_path):
    alert_list, publish = stream
    b = broker.Broker(model)
    msgs = b.messages(alert_list[:50], publish[:50], ingest_ms=publish[:50] + 1500)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for m in msgs:
            data = broker.encode_message(m)
            info = tarfile.TarInfo(f"{m['alertId']}.avro")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "60000.tar"
    path.write_bytes(buf.getvalue())
    table = alerts.read_broker_messages(path)  # the package's independent reader
    assert table["alertId"].unique(maintain_order=True).to_list() == [m["alertId"] for m in msgs]
    sums = table.group_by("alertId").agg(pl.col("probability").cast(pl.Float64).sum())
    np.testing.assert_allclose(sums["probability"], 1.0, atol=1e-6)
    one = fastavro.schemaless_reader(
        io.BytesIO(broker.encode_message(msgs[0])), load_schema("brokerClassification"), None
    )
    assert one["classifierParams"] == model.description
    assert int(one["elasticcPublishTimestamp"].timestamp() * 1000) == publish[0]
    assert [c["classId"] for c in one["classifications"]] == list(model.classes)


def test_bad_probabilities_are_refused(stream):
    a = stream[0][0]
    with pytest.raises(ValueError, match="non-negative"):
        broker.make_message(a, [2222, 2223], np.array([0.5, -0.1]), publish_ms=0)
    with pytest.raises(ValueError, match="2 finite"):
        broker.make_message(a, [2222, 2223], np.array([1.0]), publish_ms=0)


# ------------------------------------------------------------------------------------- sending


def test_sending_to_desc_tom_is_refused_without_the_flag():
    client = TomClient("https://desc-tom.lbl.gov", username="someone", password="x", connect=False)
    with pytest.raises(TomError, match="not the local TOM") as info:
        broker.send_messages(client, [{"alertId": 1}])
    assert "to_desc_tom=True" in str(info.value)
    assert broker.is_local_url("http://127.0.0.1:8123/")
    assert not broker.is_local_url("https://desc-tom.lbl.gov")


@pytest.fixture(scope="module")
def tom(sample):
    with broker.scratch_tom(sample) as server:
        yield server


def test_scratch_copy_is_dropped(sample):
    with broker.scratch_tom(sample) as server:
        client = TomClient(server.url, username=server.username, passwordfile=server.passwordfile)
        name = client.sql("SELECT current_database() AS d")["d"][0]
        assert name.startswith("tom_desc_scratch_")
    with pg.embedded_server(sample / "tomdb") as url, psycopg.connect(url) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert name not in names and "tom_desc" in names


def test_scratch_copy_waits_for_a_stopping_tom_and_names_one_that_stays(sample, monkeypatch):
    """A TOM that is shutting down (the previous notebook's) still holds tom_desc for a moment:
    the copy waits for it; a session that stays connected gets an error saying what to do."""
    from elasticc_tutorial.broker import scratch
    from elasticc_tutorial.errors import SampleError

    with pg.embedded_server(sample / "tomdb") as url:
        params = conninfo_to_dict(url)
        params["dbname"] = "tom_desc"
        holder = psycopg.connect(make_conninfo("", **params))
        timer = threading.Timer(1.5, holder.close)
        timer.start()
        try:
            started = time.monotonic()
            with broker.scratch_tom(sample) as server:
                assert server.url.startswith("http://127.0.0.1:")
            assert time.monotonic() - started >= 1.0  # it did have to wait
        finally:
            timer.join()
        monkeypatch.setattr(scratch, "COPY_WAIT_SECONDS", 1.0)
        with (
            psycopg.connect(make_conninfo("", **params)),
            pytest.raises(SampleError, match=r"1 other session\(s\) stayed connected"),
            broker.scratch_tom(sample),
        ):
            pass


def test_round_trip_through_the_local_tom(tom, model, stream):
    alert_list, publish = stream
    b = broker.Broker(model, broker.BrokerIdentity(classifier_name="TestBoostedTrees 0.1"))
    msgs = b.messages(alert_list[:120], publish[:120], ingest_ms=publish[:120] + 1000)
    demo = TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)
    before = demo.sql("SELECT count(*) AS n FROM elasticc2_brokermessage")["n"][0]

    report = broker.send_messages(broker.broker_client(tom), msgs, batch_size=50)
    assert (report.sent, report.loaded, report.requests) == (120, 120, 3)

    classifiers = demo.classifiers()
    ours = [int(k) for k, v in classifiers.items() if v["classifiername"] == "TestBoostedTrees 0.1"]
    assert len(ours) == 1
    stored = demo.sql(
        """SELECT m.alert_id, m.diasource_id, m.classid, m.probability, c.brokername,
                  c.classifierparams
           FROM elasticc2_brokermessage m
           JOIN elasticc2_brokerclassifier c ON c.classifier_id = m.classifier_id
           WHERE m.classifier_id = %(c)s ORDER BY m.alert_id""",
        {"c": ours[0]},
    )
    assert demo.sql("SELECT count(*) AS n FROM elasticc2_brokermessage")["n"][0] == before + 120
    expected = sorted(msgs, key=lambda m: m["alertId"])
    assert stored["alert_id"].to_list() == [m["alertId"] for m in expected]
    assert stored["diasource_id"].to_list() == [m["diaSourceId"] for m in expected]
    assert set(stored["brokername"]) == {"TutorialBroker"}
    assert set(stored["classifierparams"]) == {model.description}
    for row, m in zip(stored.iter_rows(named=True), expected, strict=True):
        assert list(row["classid"]) == [c["classId"] for c in m["classifications"]]
        np.testing.assert_allclose(
            row["probability"], [c["probability"] for c in m["classifications"]], rtol=1e-6
        )


def test_only_the_broker_account_may_send(tom, model, stream):
    alert_list, publish = stream
    msgs = broker.Broker(model).messages(alert_list[:2], publish[:2])
    demo = TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)
    with pytest.raises(TomError, match="HTTP 403") as info:
        broker.send_messages(demo, msgs)
    assert info.value.status == 403


def test_held_out_accuracy_scores_held_out_objects(table):
    y = table["classid"].to_numpy()
    groups = table["SNID"].to_numpy()
    label_as_feature = y[:, None].astype(float)
    tree = DecisionTreeClassifier(random_state=0)  # one split per label: perfect when it sees them
    assert broker.held_out_accuracy(label_as_feature, y, groups, estimator=tree, n_splits=2) == 1.0
    # scored on features that carry no information, it can only guess
    noise = np.zeros_like(label_as_feature)
    guess = broker.held_out_accuracy(
        label_as_feature, y, groups, estimator=tree, n_splits=2, X_test=noise
    )
    assert guess < 0.5
