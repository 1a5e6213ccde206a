"""Configuration sources: a changed file applies at the next look, a broken one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from winback.sources import Source


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def reader(path: Path) -> Source[int]:
    return Source("n.yaml", lambda: int(path.read_text()), [path], monotonic=TICKS)


TICKS = Ticks()


@pytest.fixture(autouse=True)
def _reset_ticks() -> None:
    TICKS.now = 0.0


def test_a_changed_file_applies_at_the_next_look(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("1")
    source = reader(path)
    path.write_text("22")  # another size: a new fingerprint even within the same mtime tick
    assert source.get() == 1  # not looked yet: within check_seconds
    TICKS.now += 1.0
    assert source.get() == 22
    assert source.version == 2


def test_a_broken_file_keeps_the_last_good_value_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("1")
    source = reader(path)
    path.write_text("not a number")
    TICKS.now += 1.0
    assert source.get() == 1
    assert source.error is not None
    assert "not a number" in source.error
    path.write_text("333")
    TICKS.now += 1.0
    assert source.get() == 333
    assert source.error is None


def test_a_file_broken_at_start_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("x")
    with pytest.raises(ValueError, match="invalid literal"):
        reader(path)


def test_reload_applies_at_once(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("1")
    source = reader(path)
    path.write_text("4444")
    assert source.reload() is True
    assert source.get() == 4444


def test_a_file_that_appears_or_disappears_counts_as_a_change(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    source = Source(
        "n.yaml",
        lambda: int(path.read_text()) if path.exists() else 0,
        [path],
        monotonic=TICKS,
    )
    assert source.get() == 0
    path.write_text("7")
    TICKS.now += 1.0
    assert source.get() == 7
    path.unlink()
    TICKS.now += 1.0
    assert source.get() == 0
