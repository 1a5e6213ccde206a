"""Settings: the one place that reads the environment.

All settings use the ``WINBACK_`` prefix (``WINBACK_DATABASE_URL``…). :func:`load_settings` turns
pydantic's validation errors into a :class:`ConfigError` whose message names the environment
variable and what is wrong with it, so a bad deployment stops at start-up with a readable line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "WINBACK_"


class ConfigError(Exception):
    """Configuration that Winback cannot start with."""


class Settings(BaseSettings):
    """Winback's settings; each field is read from ``WINBACK_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./winback.db",
        description="SQLAlchemy-style URL: sqlite:///path/to.db or postgresql://user@host/db.",
    )
    config_dir: Path | None = Field(
        default=None,
        description="Directory of YAML configuration (playbooks, SLA policies, teams).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    processor: Literal["process", "thread", "off"] = Field(
        default="process",
        description="How `serve` runs the event processor: a child process, a thread, or not.",
    )
    processor_batch_size: int = Field(default=500, ge=1, le=10_000)
    processor_idle_poll_seconds: float = Field(default=0.05, gt=0, le=10)
    ingest_max_group_events: int = Field(default=5_000, ge=1, le=100_000)
    # Overload: past these bounds POST /v1/events answers 503 + Retry-After and stores nothing,
    # and /readyz says not ready (docs/operations.md). 0 turns a bound off.
    ingest_max_queued_events: int = Field(
        default=10_000,
        ge=0,
        description="Most events waiting for the group committer before ingest sheds requests.",
    )
    ingest_max_queue_wait_seconds: float = Field(
        default=0.5,
        ge=0,
        le=60,
        description="Ingest sheds requests while the oldest unacknowledged request has waited "
        "longer than this (new requests would wait as long).",
    )
    ingest_max_loop_lag_seconds: float = Field(
        default=0.25,
        ge=0,
        le=60,
        description="Ingest sheds requests while the HTTP process's event loop is this far "
        "behind (requests wait this long before they are even read).",
    )
    ingest_max_processor_lag: int = Field(
        default=100_000,
        ge=0,
        description="Ingest sheds requests while more events than this are logged but not yet "
        "processed.",
    )
    ingest_lag_check_seconds: float = Field(
        default=0.5,
        gt=0,
        le=10,
        description="How often the HTTP process reads the processor lag for shedding "
        "(one query per interval, never one per request).",
    )
    ingest_retry_after_seconds: int = Field(
        default=1,
        ge=1,
        le=3600,
        description="The Retry-After a shed request is given.",
    )
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_future_skew_seconds: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How far ahead of the server's clock an event's occurred_at may be; "
        "events stamped later are refused (docs/events.md).",
    )
    auto_migrate: bool = Field(
        default=True,
        description="Apply pending migrations when `serve` starts on SQLite.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Cases and SLA clocks (docs/cases.md, docs/sla.md).
    case_reopen_window_hours: float = Field(
        default=72,
        ge=0,
        description="A signal this many hours after a case was resolved re-opens it (0: never).",
    )
    sla_timers: bool = Field(
        default=True,
        description="Run the SLA timer service beside the processor (`serve` and `worker`).",
    )
    sla_timer_poll_seconds: float = Field(
        default=0.25,
        gt=0,
        le=5,
        description="Longest sleep of the SLA timer service between looks at the next due time.",
    )
    models_dir: Path = Field(
        default=Path("./winback-models"),
        description="Directory of versioned model files (churn, text); see docs/risk.md.",
    )
    text_display: Literal["raw", "redacted"] = Field(
        default="raw",
        description="How the API shows customers' text: as written, or PII-redacted "
        "(see docs/text.md). Logs always get the redacted copy.",
    )
    routing_interval_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How often the processor's process runs a routing pass (0: only on "
        "POST /v1/routing/run); passes do nothing while no agent is configured.",
    )
    routing_offline_grace_minutes: float = Field(
        default=15.0,
        ge=0,
        le=1440,
        description="An agent offline this long has their open cases re-queued.",
    )
    risk_rescore_interval_seconds: float = Field(
        default=300,
        ge=0,
        le=7 * 86_400,
        description="Re-score a customer's churn risk as of now when it was last scored this "
        "long ago, so silence and ageing windows count without a new event; a newly activated "
        "churn model is applied to every customer (0: off; docs/risk.md).",
    )
    analytics_interval_seconds: float = Field(
        default=10.0,
        ge=0,
        le=86_400,
        description="How often the processing process brings the analytics read models up to "
        "date from the log, the case timelines and the outbox (0: off; docs/analytics.md).",
    )
    config_check_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="How often each process looks at the configuration files (and the active "
        "models) for changes; a changed file applies everywhere within this time, no restart.",
    )
    playbooks: bool = Field(
        default=True,
        description="Decide with the playbooks (docs/playbooks.md); false falls back to the "
        "foundation's built-in rule (a kill switch, and the baseline for benchmarks).",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError(
                f"unsupported database {scheme!r}; use sqlite:///path/to/winback.db "
                "or postgresql://user@host:5432/dbname"
            )
        if scheme == "sqlite" and not value.startswith("sqlite:///"):
            raise ValueError("a SQLite URL looks like sqlite:///relative.db or sqlite:////abs.db")
        return value

    @field_validator("config_dir")
    @classmethod
    def _existing_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a directory")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``overrides``), or raise :class:`ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{ENV_PREFIX}{field.upper()}: {message} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
