"""elasticc_tutorial.alerts: round trip through in-memory-built tarballs of schemaless Avro."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import fastavro
import polars as pl
import pytest

from elasticc_tutorial import alerts
from elasticc_tutorial.schema import load_schema


def _source(sid: int, oid: int, t: float, band: str = "g") -> dict:
    return {
        "diaSourceId": sid,
        "diaObjectId": oid,
        "midPointTai": t,
        "filterName": band,
        "ra": 10.5,
        "decl": -5.25,
        "psFlux": 1000.0,
        "psFluxErr": 50.0,
        "snr": 20.0,
    }


def _forced(fid: int, oid: int, t: float) -> dict:
    return {
        "diaForcedSourceId": fid,
        "diaObjectId": oid,
        "midPointTai": t,
        "filterName": "r",
        "psFlux": -12.5,
        "psFluxErr": 40.0,
    }


def _object(oid: int) -> dict:
    obj = {f["name"]: None for f in load_schema("diaObject")["fields"]}
    obj.update(diaObjectId=oid, simVersion="test", ra=10.5, decl=-5.25, z_final=0.25)
    return obj


def _alerts() -> list[dict]:
    # Object 7: alert on night 60100 (first detection), then night 60101 with history.
    first = {
        "alertId": 700000001,
        "diaSource": _source(700000001, 7, 60100.2),
        "prvDiaSources": None,
        "prvDiaForcedSources": None,
        "diaObject": _object(7),
    }
    second = {
        "alertId": 700000003,
        "diaSource": _source(700000003, 7, 60101.3, "r"),
        "prvDiaSources": [_source(700000001, 7, 60100.2)],
        "prvDiaForcedSources": [_forced(700000000, 7, 60090.1), _forced(700000002, 7, 60100.9)],
        "diaObject": _object(7),
    }
    other = {
        "alertId": 900000004,
        "diaSource": _source(900000004, 9, 60101.5, "i"),
        "prvDiaSources": [],
        "prvDiaForcedSources": None,
        "diaObject": _object(9),
    }
    return [first, second, other]


def _tar_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _encode(record: dict, name: str = "alert") -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, load_schema(name), record)
    return buf.getvalue()


@pytest.fixture
def alert_dir(tmp_path) -> Path:
    a = _alerts()
    d = tmp_path / "ELASTICC2_ALERTS"
    d.mkdir()
    (d / "60100.tar").write_bytes(_tar_bytes([(f"{a[0]['alertId']}.avro", _encode(a[0]))]))
    (d / "60101.tar").write_bytes(_tar_bytes([(f"{x['alertId']}.avro", _encode(x)) for x in a[1:]]))
    (d / "notes.txt").write_text("not a tar")
    return d


def test_round_trip(alert_dir):
    got = list(alerts.iter_alerts(alert_dir))
    assert got == _alerts()


def test_night_filter(alert_dir):
    assert [p.name for p in alerts.night_tars(alert_dir)] == ["60100.tar", "60101.tar"]
    assert [p.name for p in alerts.night_tars(alert_dir, first_night=60101)] == ["60101.tar"]
    assert [a["alertId"] for a in alerts.iter_alerts(alert_dir, last_night=60100)] == [700000001]
    one = alerts.iter_alerts(alert_dir / "60101.tar")
    assert [a["alertId"] for a in one] == [700000003, 900000004]
    assert (
        alerts.night_tars([alert_dir / "60101.tar", alert_dir / "60100.tar"])[0].name == "60100.tar"
    )


def test_tables(alert_dir):
    t = alerts.read_alerts(alert_dir)
    assert t.alerts["alertId"].to_list() == [700000001, 700000003, 900000004]
    assert t.alerts["nPrvDiaSources"].to_list() == [0, 1, 0]
    assert t.alerts["nPrvDiaForcedSources"].to_list() == [0, 2, 0]
    assert t.alerts.schema["psFlux"] == pl.Float32
    assert t.alerts.schema["midPointTai"] == pl.Float64
    # Source 700000001 appears twice (own alert and as previous source): kept once.
    assert t.sources["diaSourceId"].to_list() == [700000001, 700000003, 900000004]
    assert t.forced_sources["diaForcedSourceId"].to_list() == [700000000, 700000002]
    assert t.forced_sources["psFlux"].to_list() == [-12.5, -12.5]
    assert t.objects["diaObjectId"].to_list() == [7, 9]
    assert t.objects["z_final"].to_list() == [0.25, 0.25]
    assert t.objects["hostgal_zphot"].null_count() == 2
    assert alerts.read_alerts(alert_dir, limit=2).alerts.height == 2
    empty = alerts.read_alerts(alert_dir, first_night=70000)
    assert empty.alerts.height == 0 and empty.sources.columns[0] == "diaSourceId"


def _message(alert_id: int, classes: list[tuple[int, float]]) -> dict:
    return {
        "alertId": alert_id,
        "diaSourceId": alert_id,
        "elasticcPublishTimestamp": datetime(2023, 11, 20, 12, 0, tzinfo=UTC),
        "brokerIngestTimestamp": None,
        "brokerName": "TestBroker",
        "brokerVersion": "1.0",
        "classifierName": "RandomForest",
        "classifierParams": "{}",
        "classifications": [{"classId": c, "probability": p} for c, p in classes],
    }


def test_broker_messages_schemaless_and_container(tmp_path):
    d = tmp_path / "ELASTICC2_BROKER_MESSAGES"
    d.mkdir()
    m1 = _message(700000001, [(2222, 0.75), (2232, 0.25)])
    m2 = _message(700000003, [(2332, 1.0)])
    container = io.BytesIO()
    fastavro.writer(container, load_schema("brokerClassification"), [m2])
    (d / "60100.tar").write_bytes(
        _tar_bytes(
            [
                ("TestBroker_RandomForest_700000001.avro", _encode(m1, "brokerClassification")),
                ("TestBroker_RandomForest.avro", container.getvalue()),
            ]
        )
    )
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "60100.tar").write_bytes(
        _tar_bytes([("TestBroker_RandomForest.avro", container.getvalue()[:-20])])
    )
    with pytest.raises(alerts.AlertFormatError, match=r"TestBroker_RandomForest\.avro"):
        list(alerts.iter_broker_messages(cut))
    msgs = list(alerts.iter_broker_messages(d))
    assert [m["alertId"] for m in msgs] == [700000001, 700000003]
    table = alerts.read_broker_messages(d)
    assert table["classId"].to_list() == [2222, 2232, 2332]
    assert table["probability"].to_list() == [0.75, 0.25, 1.0]
    assert table.schema["elasticcPublishTimestamp"] == pl.Datetime("ms", "UTC")
    assert table["brokerIngestTimestamp"].null_count() == 3
    wide = alerts.read_broker_messages(d, explode=False)
    assert wide.height == 2 and wide.schema["classId"] == pl.List(pl.Int32)


def test_errors(alert_dir, tmp_path):
    with pytest.raises(alerts.AlertFileNotFoundError, match="nowhere"):
        list(alerts.iter_alerts(tmp_path / "nowhere"))
    # Truncated Avro member inside an intact tar.
    data = _encode(_alerts()[1])
    bad = tmp_path / "60200.tar"
    bad.write_bytes(_tar_bytes([("700000003.avro", data[: len(data) // 2])]))
    with pytest.raises(alerts.AlertFormatError, match=r"60200\.tar: member 700000003\.avro"):
        list(alerts.iter_alerts(bad))
    # A member that is neither an alert nor a broker message.
    junk = tmp_path / "60201.tar"
    junk.write_bytes(_tar_bytes([("x.avro", b"\x02\x04not avro at all")]))
    with pytest.raises(alerts.AlertFormatError, match=r"member x\.avro.*not a schemaless"):
        list(alerts.iter_alerts(junk))
    # Truncated tar.
    whole = (alert_dir / "60101.tar").read_bytes()
    cut = tmp_path / "60202.tar"
    cut.write_bytes(whole[:700])
    with pytest.raises(alerts.AlertFormatError, match=r"60202\.tar"):
        list(alerts.iter_alerts(cut))
    with pytest.raises(alerts.AlertFormatError, match=r"<mjd>\.tar"):
        alerts.night_tars([alert_dir / "notes.txt"], first_night=1)


def _broker_tar(tmp_path: Path) -> Path:
    d = tmp_path / "ELASTICC2_BROKER_MESSAGES"
    d.mkdir()
    container = io.BytesIO()
    fastavro.writer(container, load_schema("brokerClassification"), [_message(7, [(2222, 1.0)])])
    (d / "60100.tar").write_bytes(
        _tar_bytes(
            [
                ("TestBroker_RandomForest.avro", container.getvalue()),
                ("one.avro", _encode(_message(8, [(2232, 1.0)]), "brokerClassification")),
            ]
        )
    )
    return d


def test_wrong_kind_of_tar_is_named(alert_dir, tmp_path):
    broker = _broker_tar(tmp_path)
    # Broker messages read as alerts: the container's schema names its records.
    with pytest.raises(
        alerts.AlertFormatError,
        match=r"60100\.tar: member TestBroker_Random"
        r"Forest\.avro: holds elasticc\.v0_9_1\.brokerClassification records, "
        r"not alert: this is a broker-message tar; read it with "
        r"alerts\.iter_broker_messages",
    ):
        alerts.read_alerts(broker)
    with pytest.raises(alerts.AlertFormatError, match=r"brokerClassification records"):
        alerts.read_lightcurves(broker)
    # A schemaless broker message read as an alert.
    single = tmp_path / "single"
    single.mkdir()
    (single / "60100.tar").write_bytes(
        _tar_bytes([("one.avro", _encode(_message(8, [(2232, 1.0)]), "brokerClassification"))])
    )
    with pytest.raises(alerts.AlertFormatError, match="this is a broker-message tar"):
        list(alerts.iter_alerts(single))
    # And the reverse: alerts read as broker messages.
    with pytest.raises(
        alerts.AlertFormatError,
        match=r"holds elasticc\.v0_9_1\.alert records.*"
        r"this is an alert tar; read it with alerts\.iter_alerts/read_alerts",
    ):
        alerts.read_broker_messages(alert_dir)


def test_locations_and_lightcurves(alert_dir, tmp_path):
    from elasticc_tutorial import paths

    broker = _broker_tar(tmp_path)
    where = paths.locate(alerts=alert_dir, tom_url="local", build=False, progress=False)
    assert alerts.night_tars(where) == alerts.night_tars(alert_dir)
    assert alerts.night_tars(where.alerts) == alerts.night_tars(alert_dir)
    assert alerts.read_broker_messages(where).height == 2  # ELASTICC2_BROKER_MESSAGES beside it
    assert broker.parent == alert_dir.parent
    lc = alerts.read_lightcurves(where, flags=True)
    # Object 7: forced points at 60090.1 and 60100.9, detections at 60100.2 and 60101.3; object 9:
    # one detection. psFlux 1000 nJy = 27.54 FLUXCAL; forced -12.5 nJy.
    assert lc["SNID"].to_list() == [7, 7, 7, 7, 9]
    assert lc["MJD"].to_list() == [60090.1, 60100.2, 60100.9, 60101.3, 60101.5]
    assert lc["BAND"].to_list() == ["r", "g", "r", "r", "i"]
    assert lc["PHOTFLAG"].to_list() == [0, 4096, 0, 4096, 4096]
    assert lc["DETECTED"].to_list() == [False, True, False, True, True]
    assert not lc["TRIGGER"].any()
    njy = 10 ** ((31.4 - 27.5) / 2.5)
    assert lc["FLUXCAL"].to_list() == pytest.approx(
        [-12.5 / njy, 1000 / njy, -12.5 / njy, 1000 / njy, 1000 / njy], rel=1e-6
    )
    assert lc["SNR"].to_list() == pytest.approx([-12.5 / 40, 20, -12.5 / 40, 20, 20], rel=1e-6)
    assert alerts.read_lightcurves(alert_dir, snids=[9])["SNID"].to_list() == [9]
    with pytest.raises(alerts.AlertsError, match="SNID 12345"):
        alerts.read_lightcurves(alert_dir, snids=[9, 12345])
    with pytest.raises(alerts.AlertsError, match="SIM_MAGOBS"):
        alerts.read_lightcurves(alert_dir, columns=["SIM_MAGOBS"])
