"""elasticc_tutorial.paths: data discovery, precedence, NERSC detection, the sample fallback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from elasticc_tutorial import cli, paths

CLEARED = (
    *paths.ENV_VARS.values(),
    "TD",
    "NERSC_HOST",
    "DESC_TOM_USERNAME",
    "DESC_TOM_PASSWORD",
    "DESC_TOM_PASSWORDFILE",
    paths.SAMPLE_ENV,
    paths.NERSC_ROOT_ENV,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No inherited settings; an empty fake "/" so the real machine's paths never leak in."""
    for var in CLEARED:
        monkeypatch.delenv(var, raising=False)
    empty_root = tmp_path / "empty-root"
    empty_root.mkdir()
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(empty_root))
    monkeypatch.setenv(paths.SAMPLE_ENV, str(tmp_path / "no-sample"))


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if anything tries to build the sample."""

    def refuse(*a, **k):
        raise AssertionError("sample.build must not be called")

    monkeypatch.setattr("elasticc_tutorial.sample.build", refuse, raising=False)


def fake_nersc(root: Path, forms=paths.FORMS) -> Path:
    for form in forms:
        (root / paths.NERSC_PATHS[form][0]).mkdir(parents=True)
    return root


def prepared_sample(root: Path, generator: str | None = None) -> Path:
    from elasticc_tutorial.sample.build import generator_fingerprint

    for name in paths.DIR_NAMES.values():
        (root / name).mkdir(parents=True)
    manifest = {
        "seed": 7,
        "objects_per_model": 3,
        "files": {},
        "generator": generator or generator_fingerprint(),
    }
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    return root


def test_outdated_sample_is_rebuilt_with_its_own_parameters(tmp_path, monkeypatch, capsys):
    sdir = prepared_sample(tmp_path / "old-sample", generator="made-by-older-code")
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sdir))
    assert paths.is_complete_sample(sdir) and paths.is_outdated_sample(sdir)

    # build=False never rebuilds; it says why the sample is unusable
    locs = paths.locate(build=False)
    assert any("older version of the simulator" in n for n in locs.notes)
    assert "(outdated: made by an older simulator)" in locs.table()

    calls = []

    def fake_build(out, **kw):  # stands in for a real rebuild: a manifest of the current code
        calls.append((Path(out), kw))
        manifest = json.loads((Path(out) / "MANIFEST.json").read_text())
        manifest["generator"] = generator_fingerprint()
        (Path(out) / "MANIFEST.json").write_text(json.dumps(manifest))
        return out

    from elasticc_tutorial.sample.build import generator_fingerprint

    monkeypatch.setattr("elasticc_tutorial.sample.build", fake_build, raising=False)
    paths.locate()
    assert calls == [(sdir, {"progress": True, "force": True, "seed": 7, "objects_per_model": 3})]
    assert "Rebuilding" in capsys.readouterr().err
    assert not paths.is_outdated_sample(sdir)


def password_file(tmp_path: Path, mode: int = 0o600, secret: str = "s3cret-Pa55") -> Path:
    f = tmp_path / "tom_passwd"
    f.write_text(secret + "\n")
    f.chmod(mode)
    return f


def test_fake_nersc_tree_is_found(tmp_path, monkeypatch, no_build):
    root = fake_nersc(tmp_path / "nersc")
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(root))
    locs = paths.locate(build=False)
    assert locs.at_nersc
    assert locs.snana.path == root / "global/cfs/cdirs/desc-td/ELASTICC2"
    assert locs.train.path == root / (
        "global/cfs/cdirs/lsst/www/DESC_TD_PUBLIC/ELASTICC/ELASTICC2_TRAINING_SAMPLE_2"
    )
    assert locs.parquet.path == root / "global/cfs/cdirs/desc-td/ELASTICC2_parquet"
    assert locs.alerts.path == root / "global/cfs/cdirs/desc-td/ELASTICC2_ALERTS"
    assert {getattr(locs, f).source for f in paths.FORMS} == {"NERSC"}
    assert locs.snana_prefix == "ELASTICC2_FINAL_"
    assert locs.train_prefix == "ELASTICC2_TRAIN_02_"
    # No TOM credentials: the local TOM, which lives in the sample.
    assert locs.tom.is_local and locs.sample is not None


def test_lsst_groups_td_copy_is_the_second_choice(tmp_path, monkeypatch):
    root = tmp_path / "nersc"
    (root / "global/cfs/cdirs/lsst/groups/TD/ELASTICC2").mkdir(parents=True)
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(root))
    locs = paths.locate(build=False)
    assert locs.snana.path == root / "global/cfs/cdirs/lsst/groups/TD/ELASTICC2"
    assert locs.snana.source == "NERSC"
    assert locs.parquet.source == "sample"


def test_desc_tom_with_credentials_and_never_a_silent_local_tom(tmp_path, monkeypatch):
    root = fake_nersc(tmp_path / "nersc")
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(root))
    monkeypatch.setenv("NERSC_HOST", "perlmutter")
    monkeypatch.setenv("DESC_TOM_USERNAME", "someone")
    monkeypatch.setenv("DESC_TOM_PASSWORDFILE", str(password_file(tmp_path)))
    locs = paths.locate(build=False)
    assert locs.tom.url == "https://desc-tom.lbl.gov" == paths.DESC_TOM_URL
    assert locs.tom.source == "environment" and not locs.tom.is_local
    assert locs.tom.username == "someone"
    assert locs.sample is None and not locs.uses_sample
    assert "NERSC_HOST=perlmutter" in locs.snana.detail
    assert locs.tom_line() == "TOM: desc-tom at https://desc-tom.lbl.gov as someone"
    assert locs.summary() == "data: NERSC (snana, train, parquet, alerts)"
    assert "s3cret" not in repr(locs) + json.dumps(locs.to_dict())

    # One setting gone: an error naming it, not the local TOM.
    monkeypatch.delenv("DESC_TOM_USERNAME")
    with pytest.raises(paths.TomSettingsError, match="DESC_TOM_USERNAME is not set"):
        paths.locate(build=False)


def test_nersc_host_without_readable_data_falls_back_with_a_note(monkeypatch):
    monkeypatch.setenv("NERSC_HOST", "perlmutter")
    locs = paths.locate(build=False)
    assert locs.at_nersc
    assert locs.parquet.source == "sample"
    assert any("desc-td" in n and "Parquet" in n for n in locs.notes)


@pytest.mark.parametrize("winner", ["argument", "environment", "TD", "NERSC", "sample"])
def test_precedence_argument_env_td_nersc_sample(tmp_path, monkeypatch, winner):
    arg = tmp_path / "arg-parquet"
    envdir = tmp_path / "env-parquet"
    td = tmp_path / "td"
    nersc = fake_nersc(tmp_path / "nersc", forms=["parquet"])
    sample = prepared_sample(tmp_path / "sample")
    for d in (arg, envdir, td / "ELASTICC2_parquet"):
        d.mkdir(parents=True)
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(nersc))
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    layers = ["argument", "environment", "TD", "NERSC", "sample"]
    active = layers[layers.index(winner) :]
    if "environment" in active:
        monkeypatch.setenv("ELASTICC2_PARQUET_DIR", str(envdir))
    if "TD" in active:
        monkeypatch.setenv("TD", str(td))
    if "NERSC" not in active:
        monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(tmp_path / "empty-root"))
    kwargs = {"parquet": arg} if winner == "argument" else {}
    locs = paths.locate(build=False, **kwargs)
    expected = {
        "argument": arg,
        "environment": envdir,
        "TD": td / "ELASTICC2_parquet",
        "NERSC": nersc / "global/cfs/cdirs/desc-td/ELASTICC2_parquet",
        "sample": sample / "ELASTICC2_parquet",
    }[winner]
    assert locs.parquet.path.resolve() == expected.resolve()
    assert locs.parquet.source == winner
    assert locs.parquet.exists


def test_td_applies_per_directory_and_notes_missing_ones(tmp_path, monkeypatch):
    td = tmp_path / "td"
    (td / "ELASTICC2").mkdir(parents=True)
    prepared_sample(tmp_path / "sample")
    monkeypatch.setenv(paths.SAMPLE_ENV, str(tmp_path / "sample"))
    monkeypatch.setenv("TD", str(td))
    locs = paths.locate(build=False)
    assert locs.snana.path == td / "ELASTICC2" and locs.snana.source == "TD"
    assert locs.alerts.source == "sample"
    assert any(str(td / "ELASTICC2_ALERTS") in n for n in locs.notes)


def test_env_var_to_a_missing_directory_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ELASTICC2_SNANA_DIR", str(tmp_path / "nope"))
    with pytest.raises(paths.LocateError, match=r"\$ELASTICC2_SNANA_DIR.*nope"):
        paths.locate(build=False)
    monkeypatch.delenv("ELASTICC2_SNANA_DIR")
    with pytest.raises(paths.LocateError, match=r"argument alerts="):
        paths.locate(build=False, alerts=tmp_path / "missing")


def test_tom_url_from_env_and_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("DESC_TOM_URL", "https://tom.example.org/")
    monkeypatch.setenv("DESC_TOM_USERNAME", "someone")
    monkeypatch.setenv("DESC_TOM_PASSWORDFILE", str(password_file(tmp_path)))
    locs = paths.locate(build=False)
    assert (locs.tom.url, locs.tom.source) == ("https://tom.example.org", "environment")
    assert locs.tom_line() == "TOM: https://tom.example.org as someone"
    locs = paths.locate(build=False, tom_url="http://127.0.0.1:8000")
    assert (locs.tom.url, locs.tom.source) == ("http://127.0.0.1:8000", "argument")
    # The argument "local" is an explicit request, so it wins over the settings.
    assert paths.locate(build=False, tom_url="local").tom.is_local


def test_prepared_sample_is_used_without_building(tmp_path, monkeypatch, no_build):
    sample = prepared_sample(tmp_path / "sample")
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    locs = paths.locate()  # build=True, but the sample is complete: nothing to build
    assert paths.sample_dir() == sample
    assert locs.sample.path == sample and locs.sample.detail == f"${paths.SAMPLE_ENV}"
    for form in paths.FORMS:
        loc = getattr(locs, form)
        assert loc.path == sample / paths.DIR_NAMES[form] and loc.exists
    assert locs.tom.is_local
    # Location behaves like a path.
    assert locs.parquet / "AGN.parquet" == sample / "ELASTICC2_parquet" / "AGN.parquet"
    assert os.fspath(locs.snana) == str(sample / "ELASTICC2")
    assert locs.model_dir("AGN") == sample / "ELASTICC2/ELASTICC2_FINAL_AGN"
    assert locs.model_dir("AGN", training=True) == (
        sample / "ELASTICC2_TRAINING_SAMPLE_2/ELASTICC2_TRAIN_02_AGN"
    )
    assert locs.parquet_file("KN_K17") == sample / "ELASTICC2_parquet/KN_K17.parquet"
    text = repr(locs)
    assert text.startswith("DataLocations(at_nersc=False)")
    for form in paths.FORMS:
        assert str(getattr(locs, form).path) in text


def test_build_false_never_builds(tmp_path, monkeypatch, no_build):
    locs = paths.locate(build=False)
    assert not locs.snana.exists
    assert "(missing)" in locs.table() and "not built" in locs.table()
    assert any("not built" in n for n in locs.notes)


def test_first_use_builds_the_sample_once(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_build(out, **kwargs):
        calls.append((Path(out), kwargs))
        prepared_sample(Path(out))
        return Path(out)

    monkeypatch.setattr("elasticc_tutorial.sample.build", fake_build, raising=False)
    target = tmp_path / "cache" / "sample-v1"
    monkeypatch.setenv(paths.SAMPLE_ENV, str(target))
    locs = paths.locate(progress=False)
    assert calls == [(target, {"progress": False, "force": False})]
    assert "Building the offline ELAsTiCC2-shaped sample" in capsys.readouterr().err
    assert locs.snana.exists and paths.is_complete_sample(target)
    paths.locate()
    assert len(calls) == 1  # built once, reused afterwards


def test_incomplete_sample_directory_is_not_overwritten(tmp_path, monkeypatch, no_build):
    target = tmp_path / "half"
    (target / "ELASTICC2").mkdir(parents=True)
    monkeypatch.setenv(paths.SAMPLE_ENV, str(target))
    with pytest.raises(paths.LocateError, match=r"MANIFEST\.json"):
        paths.locate()
    assert (target / "ELASTICC2").is_dir()


def test_default_sample_dir_is_the_user_cache(monkeypatch):
    import platformdirs

    monkeypatch.delenv(paths.SAMPLE_ENV)
    expected = Path(platformdirs.user_cache_dir("elasticc-tutorial"))
    assert paths.sample_dir() == expected / f"sample-v{paths.SAMPLE_LAYOUT_VERSION}"


def test_where_cli_table_and_json(tmp_path, monkeypatch, capsys, no_build):
    root = fake_nersc(tmp_path / "nersc")
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(root))
    alerts = tmp_path / "my-alerts"
    alerts.mkdir()
    assert cli.main(["where", "--no-build", "--alerts", str(alerts)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "data: NERSC (snana, train, parquet); alerts= argument (alerts)"
    assert str(root / "global/cfs/cdirs/desc-td/ELASTICC2_parquet") in out
    assert str(alerts) in out and "argument" in out and "NERSC" in out
    assert cli.main(["where", "--no-build", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["snana"]["source"] == "NERSC" and data["snana"]["exists"] is True
    assert data["tom"]["url"] == "local"
    assert data["summary"] == [
        "TOM: local synthetic twin (started by tom.connect())",
        "data: NERSC (snana, train, parquet, alerts)",
    ]


def test_one_line_summaries_name_the_sample_version(tmp_path, monkeypatch, capsys, no_build):
    sample = prepared_sample(tmp_path / "sample")
    manifest = json.loads((sample / "MANIFEST.json").read_text())
    manifest["package_version"] = "9.8.7"
    (sample / "MANIFEST.json").write_text(json.dumps(manifest))
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    version = f"9.8.7/{manifest['generator'][:8]}"
    assert paths.sample_version(sample) == version
    assert paths.sample_version(tmp_path / "nothing") is None
    locs = paths.locate(build=False)
    assert locs.summary() == f"data: synthetic sample {version} (snana, train, parquet, alerts)"
    assert (
        locs.tom_line()
        == f"TOM: local synthetic twin (started by tom.connect()) (sample {version})"
    )
    assert locs.tom_line("http://127.0.0.1:5") == (
        f"TOM: local synthetic twin on 127.0.0.1 (sample {version})"
    )
    assert cli.main(["where", "--no-build"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [locs.tom_line(), locs.summary()]


def test_where_reports_a_broken_tom_setting(tmp_path, monkeypatch, capsys, no_build):
    monkeypatch.setenv("DESC_TOM_PASSWORDFILE", str(tmp_path / "absent"))
    assert cli.main(["where", "--no-build"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "DESC_TOM_USERNAME is not set" in err


def test_where_cli_reports_bad_input_as_error(tmp_path, capsys):
    assert cli.main(["where", "--no-build", "--snana", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_second_builder_waits_for_the_first(tmp_path):
    """Two processes that want the sample at once (lab and a kernel) must not both build it: the
    second blocks on the build lock until the first is done, then finds the sample complete."""
    import subprocess
    import sys
    import time

    from elasticc_tutorial.paths.sample import _build_lock

    sdir = tmp_path / "sample"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path\n"
            "from elasticc_tutorial.paths.sample import _build_lock\n"
            "with _build_lock(Path(sys.argv[1])):\n"
            "    print('locked', flush=True); time.sleep(1.5)\n",
            str(sdir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with _build_lock(sdir):
            waited = time.monotonic() - started
        assert waited > 1.0  # the holder kept it for 1.5 s after saying so
        mode = (tmp_path / ".sample.lock").stat().st_mode & 0o777
        assert mode == 0o600
    finally:
        holder.kill()
        holder.wait()
