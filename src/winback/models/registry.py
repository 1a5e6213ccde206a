"""Versioned model files: save, list, activate, load.

A registry is a directory (setting ``WINBACK_MODELS_DIR``, default ``./winback-models``)::

    winback-models/
      active.json                      {"churn": "churn-20261124T200102Z", "text": ...}
      churn/churn-20261124T200102Z/
        model.json                     kind, version, created_at, metrics, meta, files
        artifact.pkl                   the fitted object, when one was given (pickle)
        <other files>                  anything passed in ``files``

A version is saved into a hidden temporary directory and renamed into place, and ``active.json``
is replaced atomically, so a reader never sees half a model. Versions are unique across kinds
(they start with the kind), which is why :meth:`ModelRegistry.activate` needs only the version.

Model files are pickles: load only directories you wrote yourself (as with any scikit-learn model).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ARTIFACT_FILE = "artifact.pkl"
MODEL_FILE = "model.json"
ACTIVE_FILE = "active.json"
KINDS = ("churn", "text")
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ModelRegistryError(Exception):
    """A model that cannot be saved, found or loaded."""


@dataclass(frozen=True)
class ModelInfo:
    """What ``model.json`` says about one saved version."""

    kind: str
    version: str
    created_at: datetime
    metrics: dict[str, Any]
    meta: dict[str, Any]
    files: tuple[str, ...]
    path: Path
    active: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "metrics": self.metrics,
            "meta": self.meta,
            "files": list(self.files),
            "path": str(self.path),
            "active": self.active,
        }


@dataclass(frozen=True)
class LoadedModel:
    """A saved version, loaded: its fitted object (if any) and the paths of its files."""

    info: ModelInfo
    artifact: Any = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.info.version

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def metrics(self) -> dict[str, Any]:
        return self.info.metrics

    @property
    def meta(self) -> dict[str, Any]:
        return self.info.meta

    @property
    def path(self) -> Path:
        return self.info.path


class ModelRegistry:
    """Versioned model files in one directory."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    # -- writing -----------------------------------------------------------------------------

    def save(
        self,
        kind: str,
        artifact: Any = None,
        metrics: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, bytes | str | Path] | None = None,
        activate: bool = False,
    ) -> str:
        """Save a new version of ``kind`` and return its version string.

        ``artifact`` (any picklable object) goes to ``artifact.pkl``; ``files`` maps file names to
        bytes, text, or a path to copy (a file or a directory). ``metrics`` and ``meta`` must be
        JSON-serialisable. The new version is not active unless ``activate`` is true.
        """
        _check_kind(kind)
        if artifact is None and not files:
            raise ModelRegistryError("nothing to save: give an artifact or files")
        for name in files or {}:
            if not _FILE_RE.match(name) or name in (MODEL_FILE, ARTIFACT_FILE):
                raise ModelRegistryError(f"invalid model file name {name!r}")
        kind_dir = self.directory / kind
        kind_dir.mkdir(parents=True, exist_ok=True)
        created = datetime.now(UTC).replace(microsecond=0)
        base = f"{kind}-{created.strftime('%Y%m%dT%H%M%SZ')}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=kind_dir))
        try:
            names: list[str] = []
            if artifact is not None:
                with (tmp / ARTIFACT_FILE).open("wb") as fh:
                    pickle.dump(artifact, fh, protocol=pickle.HIGHEST_PROTOCOL)
                names.append(ARTIFACT_FILE)
            for name, content in (files or {}).items():
                target = tmp / name
                if isinstance(content, Path):
                    if content.is_dir():
                        shutil.copytree(content, target)
                    else:
                        shutil.copyfile(content, target)
                elif isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content, encoding="utf-8")
                names.append(name)
            suffix = 0
            while True:
                version = base if suffix == 0 else f"{base}-{suffix}"
                record = {
                    "kind": kind,
                    "version": version,
                    "created_at": created.isoformat(),
                    "metrics": dict(metrics or {}),
                    "meta": dict(meta or {}),
                    "files": names,
                }
                (tmp / MODEL_FILE).write_text(
                    json.dumps(record, indent=2, sort_keys=True, default=str), encoding="utf-8"
                )
                try:
                    # rename() refuses a non-empty existing target: that is our uniqueness check.
                    if (kind_dir / version).exists():
                        raise OSError("exists")
                    tmp.rename(kind_dir / version)
                    break
                except OSError:
                    suffix += 1
                    if suffix > 1000:
                        raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if activate:
            self.activate(version)
        return version

    def activate(self, version: str) -> ModelInfo:
        """Make ``version`` the active model of its kind."""
        info = self.info(version)
        active = self._active_map()
        active[info.kind] = info.version
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".active-", dir=self.directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(active, fh, indent=2, sort_keys=True)
        os.replace(tmp_name, self.directory / ACTIVE_FILE)
        return ModelInfo(**{**info.__dict__, "active": True})

    def deactivate(self, kind: str) -> None:
        """Go back to no active model for ``kind`` (the built-in behaviour)."""
        active = self._active_map()
        if active.pop(kind, None) is None:
            return
        fd, tmp_name = tempfile.mkstemp(prefix=".active-", dir=self.directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(active, fh, indent=2, sort_keys=True)
        os.replace(tmp_name, self.directory / ACTIVE_FILE)

    # -- reading -----------------------------------------------------------------------------

    def active(self, kind: str) -> str | None:
        """The active version of ``kind``, or None when there is none."""
        version = self._active_map().get(kind)
        if version is None or not (self.directory / kind / version / MODEL_FILE).is_file():
            return None
        return version

    def list(self, kind: str | None = None) -> list[ModelInfo]:
        """Every saved version (of ``kind``), oldest first."""
        if not self.directory.is_dir():
            return []
        active = self._active_map()
        kinds = [kind] if kind is not None else sorted(p.name for p in self.directory.iterdir())
        out: list[ModelInfo] = []
        for k in kinds:
            kind_dir = self.directory / k
            if not kind_dir.is_dir():
                continue
            for entry in kind_dir.iterdir():
                if entry.name.startswith(".") or not (entry / MODEL_FILE).is_file():
                    continue
                info = _read_info(entry)
                out.append(ModelInfo(**{**info.__dict__, "active": active.get(k) == info.version}))
        out.sort(key=lambda i: (i.created_at, i.version))
        return out

    def info(self, version: str) -> ModelInfo:
        """The record of ``version`` (any kind)."""
        kind = version.split("-", 1)[0]
        path = self.directory / kind / version
        if not _FILE_RE.match(version) or not (path / MODEL_FILE).is_file():
            raise ModelRegistryError(f"no model version {version!r} in {self.directory}")
        info = _read_info(path)
        return ModelInfo(**{**info.__dict__, "active": self._active_map().get(kind) == version})

    def load(self, version: str) -> LoadedModel:
        """Load ``version``: unpickle its artifact (if any) and list its files."""
        info = self.info(version)
        artifact: Any = None
        if ARTIFACT_FILE in info.files:
            try:
                with (info.path / ARTIFACT_FILE).open("rb") as fh:
                    artifact = pickle.load(fh)  # our own files, see module doc
            except Exception as exc:  # unpickling can raise almost anything
                raise ModelRegistryError(f"cannot load model {version}: {exc}") from exc
        files = {name: info.path / name for name in info.files}
        return LoadedModel(info=info, artifact=artifact, files=files)

    def load_active(self, kind: str) -> LoadedModel | None:
        version = self.active(kind)
        return None if version is None else self.load(version)

    def _active_map(self) -> dict[str, str]:
        path = self.directory / ACTIVE_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelRegistryError(f"unreadable {path}: {exc}") from exc
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _check_kind(kind: str) -> None:
    if not _KIND_RE.match(kind):
        raise ModelRegistryError(f"invalid model kind {kind!r} (lower-case letters, digits, _)")


def _read_info(path: Path) -> ModelInfo:
    try:
        data = json.loads((path / MODEL_FILE).read_text(encoding="utf-8"))
        return ModelInfo(
            kind=str(data["kind"]),
            version=str(data["version"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            metrics=dict(data.get("metrics") or {}),
            meta=dict(data.get("meta") or {}),
            files=tuple(data.get("files") or ()),
            path=path,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelRegistryError(f"unreadable model record in {path}: {exc}") from exc
