"""Configuration sources: one per YAML file (or model pointer), with one reload policy.

A :class:`Source` holds the value loaded from its files and the files' fingerprint (path,
size and modification time of each). :meth:`Source.get` looks at the fingerprint at most every
``check_seconds`` (a few ``stat`` calls) and loads the files again when it changed, so an
edited ``sla.yaml``, playbook, roster, remedy policy or a newly activated model applies to
every process that reads it — the API, the processor, the SLA timers and routing — within
``check_seconds``, without a restart. :meth:`Source.reload` does it at once.

A file that no longer loads (a typo in YAML) is refused: the last good value stays in force,
the error is kept in :attr:`Source.error` (``/readyz`` and ``/metrics`` show it) and logged
once per fingerprint. Start-up has no last good value, so there the error is raised.

Listeners (:meth:`Source.listen`) hear of every reload and every refusal (once per
fingerprint), with the files' fingerprint: the composition root records them in the audit
trail. This bottom layer knows nothing of where they go; a listener that fails is logged and
never stops a reload.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """(path, size, mtime in ns) of each existing file; a directory counts by its files."""
    out: list[tuple[str, int, int]] = []
    for path in paths:
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        for file in files:
            try:
                st = file.stat()
            except OSError:
                continue
            out.append((str(file), st.st_size, st.st_mtime_ns))
    return tuple(out)


def file_digests(stamp: Fingerprint) -> list[dict[str, object]]:
    """Each fingerprinted file with its size and the SHA-256 of its contents now (``None`` for
    a file that can no longer be read)."""
    out: list[dict[str, object]] = []
    for path, size, _mtime in stamp:
        try:
            digest: str | None = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            digest = None
        out.append({"path": path, "size": size, "sha256": digest})
    return out


@dataclass(frozen=True)
class Reload:
    """What a listener hears: ``source`` reloaded (``ok``) or refused (``error``) its files."""

    source: str
    ok: bool
    files: Fingerprint
    error: str | None = None


class Source(Generic[T]):
    """The current value of one configuration, re-loaded when its files change."""

    def __init__(
        self,
        name: str,
        load: Callable[[], T],
        paths: Callable[[], Iterable[Path]] | Iterable[Path] = (),
        *,
        check_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._load = load
        self._paths = paths if callable(paths) else (lambda fixed=tuple(paths): fixed)
        self._check = check_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self.error: str | None = None
        self.loads = 0
        self._listeners: list[Callable[[Reload], None]] = []
        self._stamp = fingerprint(self._paths())
        self._value = load()  # raises at start-up: there is no last good value to keep
        self.loads = 1
        self._checked = monotonic()

    @classmethod
    def fixed(cls, name: str, value: T) -> Source[T]:
        """A source that never changes (tests, tools)."""
        return cls(name, lambda: value, ())

    @classmethod
    def of(cls, name: str, value: Source[T] | T) -> Source[T]:
        """``value`` itself when it is a source, else a fixed source of it (for readers that
        take either: the runtime passes sources, tests and tools plain values)."""
        return value if isinstance(value, Source) else cls.fixed(name, value)

    def listen(self, listener: Callable[[Reload], None]) -> None:
        """Call ``listener`` after each reload and each newly refused version of the files."""
        self._listeners.append(listener)

    @property
    def version(self) -> int:
        """How many times a value was loaded (1 at start)."""
        return self.loads

    def get(self) -> T:
        now = self._monotonic()
        if now - self._checked >= self._check:
            self._checked = now
            stamp = fingerprint(self._paths())
            if stamp != self._stamp:
                self._refresh(stamp)
        return self._value

    def reload(self) -> bool:
        """Load the files again now; True if the new value is in force."""
        self._checked = self._monotonic()
        return self._refresh(fingerprint(self._paths()))

    def _refresh(self, stamp: Fingerprint) -> bool:
        with self._lock:
            try:
                value = self._load()
            except Exception as exc:
                news = self._stamp != stamp
                if news:
                    log.error("%s: keeping the last good configuration: %s", self.name, exc)
                self._stamp = stamp
                self.error = str(exc)
                heard = Reload(self.name, False, stamp, str(exc)) if news else None
            else:
                self._value, self._stamp, self.error = value, stamp, None
                self.loads += 1
                log.info("%s: configuration reloaded", self.name)
                heard = Reload(self.name, True, stamp)
        if heard is not None:
            self._tell(heard)
        return heard is not None and heard.ok

    def _tell(self, reload: Reload) -> None:
        for listener in self._listeners:
            try:
                listener(reload)
            except Exception:
                log.exception("%s: a reload listener failed", self.name)
