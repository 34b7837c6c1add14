"""Settings: every default once, checked against its range, read from one set of variables."""

from __future__ import annotations

import pytest

from geosam2.cli import build_parser
from geosam2.profiles import ProfileError
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
    assert Settings(profile="official").profile == "official"


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
