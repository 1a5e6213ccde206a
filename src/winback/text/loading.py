"""Choosing the text model a process runs with: the active trained one, else the default.

Also installs PII redaction on log records (:func:`install_log_redaction`): every record's
message, and any exception text, is redacted when the record is created, so raw e-mail
addresses, phone numbers, card numbers and IBANs never reach a log handler.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from winback.text.analyzer import TextAnalyzer, TrainedTextModel
from winback.text.categories import Taxonomy, load_taxonomy
from winback.text.pii import redact

log = logging.getLogger(__name__)

TAXONOMY_FILE = "taxonomy.yaml"
_installed = False


def taxonomy_from_dir(config_dir: Path | None) -> Taxonomy | None:
    """The taxonomy in ``<config_dir>/taxonomy.yaml``, if there is one."""
    if config_dir is None:
        return None
    path = Path(config_dir) / TAXONOMY_FILE
    return load_taxonomy(path) if path.is_file() else None


def active_trained_model(models_dir: Path) -> TrainedTextModel | None:
    """The registry's active ``text`` model, or ``None`` (the default is used)."""
    from winback.models.registry import ModelRegistry

    loaded = ModelRegistry(models_dir).load_active("text")
    if loaded is None:
        return None
    artifact = loaded.artifact
    if not isinstance(artifact, TrainedTextModel):
        raise ValueError(f"text model {loaded.version} does not hold a trained text model")
    return replace(artifact, version=loaded.version)


def build_analyzer(models_dir: Path, config_dir: Path | None = None) -> TextAnalyzer:
    trained = active_trained_model(models_dir)
    analyzer = TextAnalyzer(taxonomy=taxonomy_from_dir(config_dir), trained=trained)
    log.info("text model %s", analyzer.version)
    return analyzer


def install_log_redaction() -> None:
    """Redact PII in every log record from now on (idempotent; process-wide)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg).text
        else:
            red = redact(str(record.msg))
            if red.found:
                record.msg = red.text
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text).text
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _redact_arg(value: Any) -> Any:
    # Keep the type of arguments without PII (``%d`` needs an int, uvicorn needs its tuple).
    if value is None or isinstance(value, bool | int | float):
        return value
    red = redact(value if isinstance(value, str) else str(value))
    return red.text if red.found else value
