"""Settings from the environment: a bad value stops start-up with a line naming the variable."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from winback.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No WINBACK_* setting from the machine running the tests leaks into these tests."""
    for name in os.environ:
        if name.startswith("WINBACK_") and not name.startswith("WINBACK_TEST_"):
            monkeypatch.delenv(name)


def test_defaults_need_no_environment() -> None:
    settings = load_settings()

    assert isinstance(settings, Settings)
    assert settings.database_url == "sqlite:///./winback.db"
    assert settings.is_sqlite
    assert settings.config_dir is None


def test_settings_are_read_from_winback_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WINBACK_DATABASE_URL", "postgresql://winback@db:5432/winback")
    monkeypatch.setenv("WINBACK_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("WINBACK_PORT", "9000")
    monkeypatch.setenv("WINBACK_PROCESSOR", "off")

    settings = load_settings()

    assert settings.database_url == "postgresql://winback@db:5432/winback"
    assert not settings.is_sqlite
    assert settings.config_dir == tmp_path
    assert (settings.port, settings.processor) == (9000, "off")


@pytest.mark.parametrize(
    "url",
    ["mysql://root@localhost/winback", "sqlite://winback.db", "winback.db"],
)
def test_a_bad_database_url_names_the_variable(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("WINBACK_DATABASE_URL", url)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    message = str(caught.value)
    assert "WINBACK_DATABASE_URL" in message
    assert repr(url) in message


def test_an_unsupported_database_says_what_to_use_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINBACK_DATABASE_URL", "mysql://root@localhost/winback")

    with pytest.raises(ConfigError, match=r"unsupported database 'mysql'.*sqlite:///"):
        load_settings()


def test_a_config_dir_that_does_not_exist_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("WINBACK_CONFIG_DIR", str(missing))

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert "WINBACK_CONFIG_DIR" in str(caught.value)
    assert f"{missing} is not a directory" in str(caught.value)


def test_a_config_dir_that_is_a_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a_file = tmp_path / "winback.yaml"
    a_file.write_text("teams: []\n")
    monkeypatch.setenv("WINBACK_CONFIG_DIR", str(a_file))

    with pytest.raises(ConfigError, match="WINBACK_CONFIG_DIR"):
        load_settings()


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINBACK_DATABASE_URL", "oracle://x")
    monkeypatch.setenv("WINBACK_PORT", "70000")
    monkeypatch.setenv("WINBACK_PROCESSOR", "sometimes")

    with pytest.raises(ConfigError) as caught:
        load_settings()

    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid configuration:"
    named = sorted(line.strip().split(":", 1)[0] for line in lines[1:])
    assert named == ["WINBACK_DATABASE_URL", "WINBACK_PORT", "WINBACK_PROCESSOR"]


def test_overrides_are_validated_like_the_environment() -> None:
    with pytest.raises(ConfigError, match="WINBACK_PROCESSOR_BATCH_SIZE"):
        load_settings(processor_batch_size=0)


def test_the_configuration_doc_lists_exactly_the_variables_that_are_read() -> None:
    """docs/configuration.md names every setting, and no variable that nothing reads."""
    root = Path(__file__).resolve().parents[2]
    documented = set(
        re.findall(r"`(WINBACK_[A-Z_]+)`", (root / "docs/configuration.md").read_text())
    )
    settings = {f"WINBACK_{name.upper()}" for name in Settings.model_fields}
    # The test suite's own variables: read by tests/conftest.py.
    for_tests = set(
        re.findall(r'"(WINBACK_TEST_[A-Z_]+)"', (root / "tests/conftest.py").read_text())
    )
    assert for_tests, "tests/conftest.py reads no WINBACK_TEST_ variable any more"
    assert documented - settings - for_tests == set()
    assert settings - documented == set()
    assert for_tests - documented == set()
