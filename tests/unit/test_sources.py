"""Configuration sources: a changed file applies at the next look, a broken one is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from winback.sources import Reload, Source, file_digests


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


def test_listeners_hear_each_reload_and_each_new_refusal_once(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("1")
    source = reader(path)
    heard: list[Reload] = []
    source.listen(heard.append)
    path.write_text("22")
    TICKS.now += 1.0
    assert source.get() == 22
    path.write_text("not a number")
    TICKS.now += 1.0
    assert source.get() == 22
    TICKS.now += 1.0
    assert source.get() == 22  # the same broken file: refused once, heard once
    assert [(r.ok, r.error is None) for r in heard] == [(True, True), (False, False)]
    assert heard[0].source == "n.yaml"
    assert heard[0].files[0][0] == str(path)
    assert heard[0].files[0][1] == 2  # the size of "22"
    [digest] = file_digests(heard[1].files)
    assert digest["sha256"] == hashlib.sha256(b"not a number").hexdigest()


def test_a_failing_listener_never_stops_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text("1")
    source = reader(path)

    def broken(_: Reload) -> None:
        raise RuntimeError("the audit trail is down")

    source.listen(broken)
    path.write_text("333")
    assert source.reload() is True
    assert source.get() == 333
