"""Settings: every default once, checked against its range, read from one set of variables."""

from __future__ import annotations

import pytest

from geosam2.cli import build_parser
from geosam2.profiles import DEFAULT, OFFICIAL, ProfileError
from geosam2.settings import OPTIONS, Settings, SettingsError


def test_defaults_lie_in_their_ranges_and_sliders():
    settings = Settings()
    for name, option in OPTIONS.items():
        assert option.contains(getattr(settings, name)), name
        if option.slider:
            low, high, _ = option.slider
            assert option.contains(low) and option.contains(high) and low <= option.default <= high, name


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(resolution=15), "from 16 to 4096"),
        (dict(resolution=4097), "from 16 to 4096"),
        (dict(resolution=512.5), "whole number"),
        (dict(pa=1.0), "not including"),
        (dict(pa=-0.01), "from 0"),
        (dict(samples_per_face=0), "from 1 to 10"),
        (dict(face_budget=-1), "0 \\(off\\) or a whole number of at least 100"),
        (dict(face_budget=1), "0 \\(off\\) or a whole number of at least 100"),
        (dict(face_budget=99), "at least 100"),
        (dict(max_faces=0), "at least 1"),
        (dict(cache_mb=0), "above 0"),
        (dict(resolution=True), "whole number"),
    ],
)
def test_out_of_range_values_are_refused_with_the_range(changes, words):
    with pytest.raises(SettingsError, match=words):
        Settings(**changes)


def test_bounds_themselves_are_accepted():
    Settings(resolution=16, pa=0.0, samples_per_face=10, face_budget=0, max_faces=1)
    Settings(face_budget=100)
    Settings(resolution=4096, pa=0.999)


def test_unknown_profile_is_refused():
    with pytest.raises(ProfileError):
        Settings(profile="fastest")
    assert Settings(profile="official").profile is OFFICIAL  # a name given at the edge becomes its Profile
    assert Settings().profile is DEFAULT and Settings(profile=None).profile is DEFAULT


def test_environment_then_given_values():
    environ = {"GEOSAM2_FACE_BUDGET": "200_000", "GEOSAM2_MAX_FACES": " 3000000 ", "GEOSAM2_DEMO_CACHE_MB": ""}
    settings = Settings.from_env(environ, resolution=256, max_faces=None)
    assert (settings.face_budget, settings.max_faces, settings.resolution) == (200_000, 3_000_000, 256)
    assert settings.cache_mb == Settings().cache_mb  # empty: the default
    assert Settings.from_env(environ, face_budget=0).face_budget == 0  # given wins over the environment
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("variable, text", [("GEOSAM2_FACE_BUDGET", "many"), ("GEOSAM2_FACE_BUDGET", "-5"), ("GEOSAM2_MAX_FACES", "1.5")])
def test_bad_environment_values_name_the_variable(variable, text):
    with pytest.raises(SettingsError, match=f"{variable}={text!r}.*unset it"):
        Settings.from_env({variable: text})


def test_the_command_line_takes_its_defaults_and_ranges_from_the_settings(monkeypatch, capsys):
    monkeypatch.setenv("GEOSAM2_FACE_BUDGET", "1234")
    args = build_parser().parse_args(["segment", "m.glb", "--auto", "--out", "o"])
    assert (args.resolution, args.pa) == (Settings().resolution, Settings().pa)
    assert args.face_budget is None and args.max_faces is None  # then the environment's, or the default
    with pytest.raises(SystemExit):
        build_parser().parse_args(["segment", "m.glb", "--auto", "--resolution", "8", "--out", "o"])
    assert "from 16 to 4096" in capsys.readouterr().err


def test_the_face_limit_follows_the_memory():
    from geosam2.settings import BYTES_PER_FACE, MEMORY_SHARE, machine_memory_bytes, memory_face_limit

    assert memory_face_limit(24 * 2**30) >= 10_000_000  # a 10M-face mesh passes on a 24 GiB machine
    assert memory_face_limit(4 * 2**30) < 3_000_000  # and not on a small one
    assert memory_face_limit(2 * 2**30) * BYTES_PER_FACE <= MEMORY_SHARE * 2 * 2**30
    assert Settings().max_faces == memory_face_limit(machine_memory_bytes())
    assert Settings().demo_max_faces < Settings().max_faces or machine_memory_bytes() < 3 * 2**30


def test_the_demo_limit_is_its_own_setting():
    settings = Settings.from_env({"GEOSAM2_DEMO_MAX_FACES": "500000", "GEOSAM2_MAX_FACES": "9000000"})
    assert (settings.demo_max_faces, settings.max_faces) == (500_000, 9_000_000)
    assert "visitor" in OPTIONS["demo_max_faces"].words and "--" not in OPTIONS["demo_max_faces"].words
