from __future__ import annotations

from pathlib import Path

import pytest

from winback.models import ModelRegistry, ModelRegistryError


def test_save_list_activate_load(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "models")
    assert reg.list() == []
    assert reg.active("churn") is None
    v1 = reg.save("churn", {"w": [1, 2]}, {"roc_auc": 0.8}, {"source": "csv"})
    v2 = reg.save("churn", {"w": [3]}, {"roc_auc": 0.9}, {}, files={"notes.txt": "hello"})
    assert v1 != v2
    assert v1.startswith("churn-")
    assert v2.startswith("churn-")
    assert [i.version for i in reg.list("churn")] == [v1, v2]
    assert reg.active("churn") is None
    info = reg.activate(v2)
    assert info.active
    assert reg.active("churn") == v2
    loaded = reg.load(v2)
    assert loaded.artifact == {"w": [3]}
    assert loaded.metrics == {"roc_auc": 0.9}
    assert loaded.files["notes.txt"].read_text() == "hello"
    assert [i.active for i in reg.list()] == [False, True]
    reg.activate(v1)
    assert reg.active("churn") == v1
    reg.deactivate("churn")
    assert reg.active("churn") is None


def test_kinds_are_independent_and_files_only(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    (src / "vocab.txt").write_text("a b c")
    t = reg.save("text", None, {"acc": 0.7}, {}, files={"bundle": src, "raw.bin": b"\x00\x01"})
    c = reg.save("churn", [1], {}, {}, activate=True)
    assert reg.active("text") is None
    assert reg.active("churn") == c
    reg.activate(t)
    assert reg.active("text") == t
    assert reg.active("churn") == c
    loaded = reg.load(t)
    assert loaded.artifact is None
    assert (loaded.files["bundle"] / "vocab.txt").read_text() == "a b c"
    assert loaded.files["raw.bin"].read_bytes() == b"\x00\x01"
    assert {i.kind for i in reg.list()} == {"text", "churn"}


def test_errors(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path)
    with pytest.raises(ModelRegistryError):
        reg.activate("churn-nope")
    with pytest.raises(ModelRegistryError):
        reg.save("Bad Kind", [1], {}, {})
    with pytest.raises(ModelRegistryError):
        reg.save("churn", None, {}, {})
    with pytest.raises(ModelRegistryError):
        reg.save("churn", [1], {}, {}, files={"../x": b""})
    assert not (tmp_path / "churn").exists() or not any((tmp_path / "churn").iterdir())
