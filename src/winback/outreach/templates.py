"""Message templates: Jinja2 in a sandbox, per language with fallback, checked at load.

A template set is a directory per language (``en/``, ``es/``, ``pt-br/``…) of files named
``<message>.<part>``: ``subject`` (the e-mail subject), ``txt`` (plain text: the e-mail's text
part, and what SMS and chat send unless a ``sms`` part exists) and ``html`` (the e-mail's HTML
part, autoescaped). The shipped defaults (``default_templates/``) are loaded first; a
``templates/`` directory in the configuration directory adds languages or replaces files.

Rendering runs in Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` (a template cannot
reach Python internals) with ``StrictUndefined`` (a misspelt variable is an error, not an empty
string). A language falls back from ``pt-BR`` to ``pt``, then to the default language.

:func:`load_templates` parses every file and raises :class:`TemplateConfigError` listing each
bad one as ``path:line: message``; every message needs ``subject`` and ``txt`` in the default
language, and each template is rendered once against a sample customer and case, so a
misspelt variable is found at load, not when the first customer should hear from us.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import DictLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from winback.outreach.messages import REQUIRED_TEMPLATES

DEFAULT_DIR = Path(__file__).parent / "default_templates"
CONFIG_SUBDIR = "templates"
PARTS = ("subject", "txt", "html", "sms")
DEFAULT_LANGUAGE = "en"

SAMPLE_CONTEXT: dict[str, Any] = {
    "customer": {
        "id": "cus-sample",
        "name": "Ana Sample",
        "first_name": "Ana",
        "email": "ana@example.com",
        "phone": "+15550100",
        "language": "en",
        "segment": "smb",
        "plan": "pro",
    },
    "case": {
        "id": 1234,
        "status": "new",
        "priority": "P2",
        "reason": "negative message",
        "category": "billing",
        "owner": "agent-1",
        "opened_at": "2026-12-02T10:00:00+00:00",
    },
    "message": {
        "text": "We have refunded the duplicate charge.",
        "remedy": "credit",
        "amount": 10.0,
        "currency": "EUR",
        "priority": "P1",
        "reason": "sample",
    },
    "company": "Winback",
}


class TemplateConfigError(Exception):
    """Templates that cannot be used; the message lists ``path:line: problem`` per file."""


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None
    language: str


class TemplateSet:
    """Loaded, checked templates; see the module docstring."""

    def __init__(
        self, sources: Mapping[str, str], files: Mapping[str, str], default_language: str
    ) -> None:
        self._files = dict(files)
        self.default_language = default_language
        self.env = SandboxedEnvironment(
            loader=DictLoader(dict(sources)),
            undefined=StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".html")),
            keep_trailing_newline=False,
        )
        self.languages = sorted({name.split("/", 1)[0] for name in sources})
        self._names = set(sources)

    def names(self) -> list[str]:
        return sorted(self._names)

    def has(self, language: str, template: str, part: str) -> bool:
        return f"{language}/{template}.{part}" in self._names

    def pick_language(self, template: str, language: str | None) -> str:
        """The first of ``pt-br``, ``pt``, the default language that has ``template``."""
        wanted = (language or "").lower().replace("_", "-")
        for option in (wanted, wanted.split("-", 1)[0], self.default_language):
            if option and self.has(option, template, "txt"):
                return option
        raise TemplateConfigError(
            f"no template {template!r} in {language!r} or {self.default_language!r}"
        )

    def render(
        self, template: str, language: str | None, channel: str, context: Mapping[str, Any]
    ) -> Rendered:
        """Render ``template`` for ``channel`` in the customer's language (with fallback)."""
        lang = self.pick_language(template, language)

        def part(name: str) -> str | None:
            key = f"{lang}/{template}.{name}"
            if key not in self._names:
                return None
            return self.env.get_template(key).render(**context).strip()

        if channel == "email":
            text = part("txt") or ""
            return Rendered(part("subject"), text, part("html"), lang)
        text = part("sms") or part("txt") or ""
        return Rendered(None, text, None, lang)

    def where(self, name: str) -> str:
        return self._files.get(name, name)


def _read_dir(root: Path, sources: dict[str, str], files: dict[str, str]) -> None:
    if not root.is_dir():
        return
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(lang_dir.iterdir()):
            stem, dot, part = path.name.rpartition(".")
            if not dot or part not in PARTS or not path.is_file():
                continue
            key = f"{lang_dir.name.lower()}/{stem}.{part}"
            sources[key] = path.read_text(encoding="utf-8")
            files[key] = str(path)


def template_files(config_dir: Path | None) -> list[Path]:
    """The files a change to which reloads the templates (for the configuration source)."""
    if config_dir is None:
        return []
    root = config_dir / CONFIG_SUBDIR
    if not root.is_dir():
        return [root]
    return [root, *sorted(p for p in root.rglob("*") if p.is_file())]


def load_templates(
    config_dir: Path | None = None, default_language: str = DEFAULT_LANGUAGE
) -> TemplateSet:
    """The shipped templates overlaid with ``<config_dir>/templates``; checked (see above)."""
    sources: dict[str, str] = {}
    files: dict[str, str] = {}
    _read_dir(DEFAULT_DIR, sources, files)
    if config_dir is not None:
        _read_dir(config_dir / CONFIG_SUBDIR, sources, files)
    return check_templates(sources, files, default_language)


def check_templates(
    sources: Mapping[str, str], files: Mapping[str, str], default_language: str
) -> TemplateSet:
    """Parse and trial-render every template; raise :class:`TemplateConfigError` listing every
    problem as ``path:line: message``."""
    problems: list[str] = []
    env = SandboxedEnvironment(undefined=StrictUndefined)
    for key, source in sorted(sources.items()):
        try:
            env.parse(source, name=key, filename=files.get(key, key))
        except TemplateSyntaxError as exc:
            problems.append(f"{files.get(key, key)}:{exc.lineno}: {exc.message}")
    for template in REQUIRED_TEMPLATES:
        for part in ("subject", "txt"):
            if f"{default_language}/{template}.{part}" not in sources:
                problems.append(
                    f"{default_language}/{template}.{part}: missing (every message needs a "
                    "subject and a text part in the default language)"
                )
    if problems:
        raise TemplateConfigError("invalid templates:\n  " + "\n  ".join(problems))
    result = TemplateSet(sources, files, default_language)
    for key in sorted(sources):
        try:
            result.env.get_template(key).render(**SAMPLE_CONTEXT)
        except TemplateError as exc:
            problems.append(f"{files.get(key, key)}:{_line_of(exc)}: {exc}")
    if problems:
        raise TemplateConfigError("invalid templates:\n  " + "\n  ".join(problems))
    return result


def _line_of(exc: BaseException) -> int:
    """The template line a rendering error came from (Jinja2 rewrites its traceback so that
    template frames carry the template's file name and line)."""
    tb = exc.__traceback__
    line = 1
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.endswith(".py"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
