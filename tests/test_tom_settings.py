"""The one rule that chooses the TOM (elasticc_tutorial.tom.settings), the one password-file check,
and connect()'s refusal of every broken DESC_TOM_* setting before anything starts. The network cases
(unreachable URL, refused login, a remote TOM that works) are in tests/test_tom.py, against a real
local TOM."""

from __future__ import annotations

import os

import pytest

from elasticc_tutorial import tom
from elasticc_tutorial.errors import TomError, TomSettingsError
from elasticc_tutorial.tom import connection, settings

SECRET = "pa55-Word-42"


@pytest.fixture(autouse=True)
def no_settings(monkeypatch):
    for name in settings.SETTINGS:
        monkeypatch.delenv(name, raising=False)


def pwfile(tmp_path, text=SECRET + "\n", mode=0o600):
    f = tmp_path / "tom_passwd"
    f.write_text(text)
    f.chmod(mode)
    return f


def test_no_setting_at_all_is_the_local_tom():
    loc = settings.choose_tom(environ={"HOME": "/x"})
    assert loc.is_local and loc.source == "default" and loc.username is None
    assert loc.line() == "TOM: local synthetic twin (started by tom.connect())"
    assert loc.line("http://127.0.0.1:8123", "0.1.0/abcd1234") == (
        "TOM: local synthetic twin on 127.0.0.1 (sample 0.1.0/abcd1234)"
    )
    assert settings.choose_tom("local", {"DESC_TOM_USERNAME": "x"}).is_local  # explicit argument
    assert settings.choose_tom(environ={"DESC_TOM_URL": "local"}).source == "environment"


def test_complete_settings_choose_the_remote_tom(tmp_path):
    f = pwfile(tmp_path)
    env = {"DESC_TOM_USERNAME": "rknop", "DESC_TOM_PASSWORDFILE": str(f)}
    loc = settings.choose_tom(environ=env)
    assert (loc.url, loc.username, loc.password) == ("https://desc-tom.lbl.gov", "rknop", SECRET)
    assert loc.password_from == f"DESC_TOM_PASSWORDFILE={f}"
    assert loc.line() == "TOM: desc-tom at https://desc-tom.lbl.gov as rknop"
    assert SECRET not in repr(loc) and SECRET not in str(loc.to_dict())
    env = {
        "DESC_TOM_URL": "http://127.0.0.1:9/",
        "DESC_TOM_USERNAME": "u",
        "DESC_TOM_PASSWORD": "pw",
    }
    loc = settings.choose_tom(environ=env)
    assert (loc.url, loc.password, loc.password_from) == (
        "http://127.0.0.1:9",
        "pw",
        "DESC_TOM_PASSWORD",
    )
    assert loc.line() == "TOM: http://127.0.0.1:9 as u"
    # One constant, everywhere.
    from elasticc_tutorial import paths

    assert paths.DESC_TOM_URL is settings.DESC_TOM_URL is tom.DESC_TOM_URL is tom.DEFAULT_URL


def broken_cases(tmp_path):
    good = str(pwfile(tmp_path))
    loose = tmp_path / "loose"
    loose.write_text(SECRET)
    loose.chmod(0o640)
    empty = tmp_path / "empty"
    empty.write_text("\n  \n")
    empty.chmod(0o600)
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    user = {"DESC_TOM_USERNAME": "u"}
    return {
        "password file missing": (
            {**user, "DESC_TOM_PASSWORDFILE": str(tmp_path / "nope")},
            "DESC_TOM_PASSWORDFILE",
            "no such file",
        ),
        "password file is a directory": (
            {**user, "DESC_TOM_PASSWORDFILE": str(folder)},
            "DESC_TOM_PASSWORDFILE",
            "is a directory",
        ),
        "password file empty": (
            {**user, "DESC_TOM_PASSWORDFILE": str(empty)},
            "DESC_TOM_PASSWORDFILE",
            "is empty",
        ),
        "password file too open": (
            {**user, "DESC_TOM_PASSWORDFILE": str(loose)},
            "DESC_TOM_PASSWORDFILE",
            "chmod 600",
        ),
        "username missing": ({"DESC_TOM_PASSWORDFILE": good}, "DESC_TOM_USERNAME", "not set"),
        "only a URL": (
            {"DESC_TOM_URL": "https://desc-tom.lbl.gov"},
            "DESC_TOM_USERNAME",
            "not set",
        ),
        "password missing": (dict(user), "DESC_TOM_PASSWORDFILE", "no TOM password"),
        "URL malformed": (
            {**user, "DESC_TOM_PASSWORDFILE": good, "DESC_TOM_URL": "desc-tom.lbl.gov"},
            "DESC_TOM_URL",
            "not a TOM URL",
        ),
        "URL bad port": (
            {**user, "DESC_TOM_PASSWORDFILE": good, "DESC_TOM_URL": "http://h:99999"},
            "DESC_TOM_URL",
            "invalid port",
        ),
        "empty value": ({**user, "DESC_TOM_PASSWORD": ""}, "DESC_TOM_PASSWORD", "set but empty"),
        "two passwords": (
            {**user, "DESC_TOM_PASSWORD": "x", "DESC_TOM_PASSWORDFILE": good},
            "DESC_TOM_PASSWORD",
            "unset one",
        ),
        "local plus credentials": (
            {**user, "DESC_TOM_URL": "local"},
            "DESC_TOM_USERNAME",
            "DESC_TOM_URL=local",
        ),
    }


CASES = [
    "password file missing",
    "password file is a directory",
    "password file empty",
    "password file too open",
    "username missing",
    "only a URL",
    "password missing",
    "URL malformed",
    "URL bad port",
    "empty value",
    "two passwords",
    "local plus credentials",
]


@pytest.mark.parametrize("case", CASES)
def test_each_broken_setting_is_named_and_never_falls_back(case, tmp_path, monkeypatch):
    env, setting, what = broken_cases(tmp_path)[case]
    with pytest.raises(TomSettingsError) as exc:
        settings.choose_tom(environ=env)
    assert setting in str(exc.value) and what in str(exc.value)
    assert SECRET not in str(exc.value)
    # connect() applies the same rule to os.environ, before starting or contacting anything.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(connection, "TomClient", None)  # would fail if reached
    with pytest.raises(TomSettingsError, match=setting):
        tom.connect(quiet=True)
    assert connection._LOCAL is None


def test_read_password_file_is_the_one_check(tmp_path):
    f = pwfile(tmp_path, "  first-line  \nsecond\n")
    assert settings.read_password_file(f) == "first-line"
    f.chmod(0o604)
    with pytest.raises(TomSettingsError, match=r"passwordfile=.*mode 604.*chmod 600"):
        settings.read_password_file(f, setting="passwordfile")
    f.chmod(0o000)
    if os.geteuid() != 0:  # root reads anything
        with pytest.raises(TomSettingsError, match="cannot be read"):
            settings.read_password_file(f)
    # TomClient uses the same check for its passwordfile= argument (before any network call).
    f.chmod(0o644)
    with pytest.raises(TomSettingsError, match=r"passwordfile=.*chmod 600"):
        tom.TomClient("http://127.0.0.1:9", username="u", passwordfile=f)


def test_missing_password_is_a_settings_error_not_a_bare_runtime_error():
    with pytest.raises(TomSettingsError, match="Must give either password or passwordfile") as exc:
        tom.TomClient("http://127.0.0.1:9", username="u")
    assert isinstance(exc.value, TomError) and isinstance(
        exc.value, RuntimeError
    )  # DESC-compatible


def test_where_and_doctor_say_the_same_words_as_connect(tmp_path, monkeypatch, capsys):
    from elasticc_tutorial import cli, doctor

    monkeypatch.setenv("DESC_TOM_USERNAME", "u")
    monkeypatch.setenv("DESC_TOM_PASSWORDFILE", str(tmp_path / "nope"))
    monkeypatch.setenv("ELASTICC_TUTORIAL_SAMPLE", str(tmp_path / "no-sample"))
    with pytest.raises(TomSettingsError) as exc:
        settings.choose_tom()
    assert cli.main(["where", "--no-build"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {exc.value}"
    checks = doctor.check_tom(None, exc.value)
    assert checks[0].status == doctor.FAIL and checks[0].detail == str(exc.value)
