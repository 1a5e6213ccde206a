"""Settings: the one place that reads the environment.

All settings use the ``WINBACK_`` prefix (``WINBACK_DATABASE_URL``…). :func:`load_settings` turns
pydantic's validation errors into a :class:`ConfigError` whose message names the environment
variable and what is wrong with it, so a bad deployment stops at start-up with a readable line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    redis_url: str | None = Field(
        default=None,
        description="Redis for the wake-up feed (redis://host:6379/0): ingest tells idle workers "
        "the log moved. Optional; never a system of record (docs/operations.md).",
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
    # Several workers on a partitioned log (`winback db partitions N`; docs/operations.md).
    partition_heartbeat_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often a worker heartbeats and re-balances the log's partitions.",
    )
    partition_lease_seconds: float = Field(
        default=3.0,
        gt=0,
        le=600,
        description="How long a worker's heartbeat and partition leases last unrenewed: a dead "
        "worker's partitions move after at most this plus one heartbeat.",
    )
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
    text_display: Literal["by_role", "redacted", "raw"] = Field(
        default="by_role",
        description="Who sees customers' contact details and free text raw through the API "
        "(docs/privacy.md): by_role (an agent on their own cases; leads, managers, admins), "
        "redacted (nobody), raw (every authenticated caller). Logs always get the redacted copy.",
    )
    retention_days: float = Field(
        default=365,
        ge=0,
        le=36_500,
        description="Events received longer ago than this lose their payload's free text and "
        "contact details (kept: type, times, channel, score, amount); 0: kept for ever "
        "(docs/privacy.md).",
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
    # -- The edges: HTTP headers, CORS, rate limits, single sign-on (docs/security.md) ----------
    hsts_seconds: int = Field(
        default=0,
        ge=0,
        le=2 * 365 * 86_400,
        description="Send Strict-Transport-Security with this max-age (0: not sent). Set it "
        "only when every client reaches Winback over HTTPS (TLS ends at the proxy in front).",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated origins (https://app.example.com) whose pages may call "
        "the API from a browser; empty: CORS is off and browsers keep other sites out.",
    )
    rate_limit_key_per_second: float = Field(
        default=5_000,
        ge=0,
        description="Requests per second one API key may make, sustained (0: no limit). The "
        "default is above what one process ingests, so it stops a runaway client, not a busy "
        "source system; set it lower per deployment.",
    )
    rate_limit_key_burst: int = Field(
        default=10_000, ge=1, description="Requests one API key may make at once, in a burst."
    )
    rate_limit_login_per_second: float = Field(
        default=0.2,
        ge=0,
        description="Login attempts per second, sustained, per login name and per client "
        "address (0.2: twelve a minute; 0: no limit).",
    )
    rate_limit_login_burst: int = Field(
        default=10, ge=1, description="Login attempts allowed at once before the rate applies."
    )
    rate_limit_max_keys: int = Field(
        default=100_000,
        ge=100,
        description="Most buckets a rate limiter keeps; past it the least recently seen goes.",
    )
    # OpenID Connect single sign-on: off unless WINBACK_OIDC_ISSUER is set (docs/security.md).
    oidc_issuer: str | None = Field(
        default=None,
        description="The provider's issuer URL (its discovery document is "
        "<issuer>/.well-known/openid-configuration); unset: single sign-on is off.",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="The client secret; it also signs the short-lived sign-in cookie.",
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="Where the provider sends the browser back: "
        "https://<winback>/v1/auth/oidc/callback, as registered with the provider.",
    )
    oidc_scopes: str = Field(
        default="openid email profile", description="Scopes asked for, space-separated."
    )
    oidc_username_claim: str = Field(
        default="preferred_username", description="The ID-token claim that names the user."
    )
    oidc_role_claim: str = Field(
        default="roles",
        description="The ID-token claim carrying the user's roles or groups (a string or a "
        "list; a dotted path such as realm_access.roles reaches into objects).",
    )
    oidc_role_map: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object from the provider's role or group to a Winback role, e.g. "
        '{"support-leads": "lead", "support": "agent"}; the first entry the user carries '
        "wins. Empty: claim values that are Winback role names are taken as they are "
        "(roles are checked when the app is built: config does not import identity).",
    )
    oidc_allowed_domains: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated e-mail domains allowed to sign in (empty: any).",
    )
    oidc_leeway_seconds: int = Field(
        default=60, ge=0, le=600, description="Clock skew tolerated on exp and iat."
    )
    oidc_login_timeout_seconds: int = Field(
        default=600,
        ge=30,
        le=3600,
        description="How long a sign-in started at the provider may take to come back.",
    )

    # Outreach: the outbox relay, channels and message policy (docs/outreach.md).
    outreach_relay: bool = Field(
        default=True,
        description="Run the outbox relay beside the processor: fan-out, then one delivery lane "
        "per configured channel and one for webhooks.",
    )
    outreach_poll_seconds: float = Field(default=0.2, gt=0, le=60)
    outreach_batch_size: int = Field(default=200, ge=1, le=10_000)
    outreach_concurrency: int = Field(
        default=16, ge=1, le=256, description="Messages each lane sends at once."
    )
    outreach_lease_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="How long a claimed delivery stays with its relay; after that (the relay "
        "died) another relay sends it again, with the same idempotency key.",
    )
    outreach_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Tries before a delivery becomes a dead letter."
    )
    outreach_backoff_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    outreach_backoff_max_seconds: float = Field(default=3600.0, gt=0, le=7 * 86_400)
    outreach_quiet_hours: str | None = Field(
        default=None,
        description="Organisation-wide quiet hours in the customer's time zone, e.g. "
        "21:00-08:00 (a customer's own preference replaces them).",
    )
    outreach_critical_overrides_quiet_hours: bool = Field(
        default=True,
        description="Critical messages (an agent's reply) may be sent during quiet hours.",
    )
    outreach_frequency_cap: int = Field(
        default=5,
        ge=0,
        description="Most non-critical messages to one customer per window (a customer's own "
        "max_per_day replaces it).",
    )
    outreach_frequency_window_hours: float = Field(default=24, gt=0, le=24 * 31)
    outreach_company_name: str = Field(
        default="Winback", description="The sender's name in the message templates."
    )
    outreach_default_language: str = Field(default="en", min_length=2, max_length=35)
    smtp_host: str | None = Field(
        default=None, description="SMTP server for e-mail (unset: no e-mail channel)."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "winback@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = Field(default=False, description="Implicit TLS (port 465).")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    smtp_verify_tls: bool = True
    twilio_account_sid: str | None = Field(
        default=None, description="Twilio account for SMS and chat (unset: no SMS/chat)."
    )
    twilio_auth_token: str | None = None
    twilio_sms_from: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @field_validator("outreach_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str | None) -> str | None:
        if value:
            from datetime import time

            try:
                start, end = (time.fromisoformat(p.strip()) for p in value.split("-", 1))
            except ValueError:
                raise ValueError("expected HH:MM-HH:MM, e.g. 21:00-08:00") from None
            if start == end:
                raise ValueError("start and end are the same")
        return value or None

    # Identity and sessions (docs/api.md "Authentication", docs/configuration.md).
    secret_key: SecretStr | None = Field(
        default=None,
        description="The server's secret for CSRF tokens: at least 32 characters, not a "
        "placeholder. Required by `serve` outside demo mode.",
    )
    demo_mode: bool = Field(
        default=False,
        description="Demo mode (`winback demo` sets it): a random secret key when none is set, "
        "session cookies without the Secure flag (plain http on localhost).",
    )
    session_cookie_secure: bool | None = Field(
        default=None,
        description="Send the session cookie only over HTTPS (default: on, off in demo mode).",
    )
    session_hours: float = Field(
        default=12, gt=0, le=24 * 30, description="How long a login session lasts."
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=1000, description="Failed logins for one user name before a lock."
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, le=100_000, description="Failed logins from one address before a lock."
    )
    login_lockout_minutes: float = Field(
        default=15,
        gt=0,
        le=24 * 60,
        description="How long a lock lasts; failures count within the same window.",
    )
    api_key_cache_seconds: float = Field(
        default=5,
        ge=0,
        le=300,
        description="How long a process trusts an API key lookup (a revoked key stops working "
        "within this time).",
    )
    metrics_public: bool = Field(
        default=True,
        description="Serve /metrics without credentials (false: it needs metrics:read).",
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

    @field_validator("cors_origins", "oidc_allowed_domains", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            parts = urlsplit(origin)
            if origin != "*" and (
                parts.scheme not in {"http", "https"} or not parts.netloc or parts.path
            ):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return value

    @field_validator("oidc_allowed_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(domain.lower().lstrip("@") for domain in value)

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer is None:
            return self
        missing = [
            name
            for name in ("oidc_client_id", "oidc_client_secret", "oidc_redirect_url")
            if not getattr(self, name)
        ]
        if missing:
            names = ", ".join(ENV_PREFIX + m.upper() for m in missing)
            raise ValueError(f"WINBACK_OIDC_ISSUER is set, so {names} must be set too")
        for name in ("oidc_issuer", "oidc_redirect_url"):
            url = urlsplit(str(getattr(self, name)))
            loopback = url.hostname in {"127.0.0.1", "::1", "localhost"}
            if url.scheme != "https" and not (url.scheme == "http" and loopback):
                raise ValueError(f"{ENV_PREFIX}{name.upper()} must be an https:// URL")
        if "openid" not in self.oidc_scopes.split():
            raise ValueError("WINBACK_OIDC_SCOPES must include openid")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return not self.demo_mode


_PLACEHOLDERS = ("changeme", "change-me", "change_me", "example", "placeholder", "your-secret")
MIN_SECRET_LENGTH = 32


def secret_key(settings: Settings) -> str:
    """The server's secret, or raise :class:`ConfigError` when it is missing or weak outside
    demo mode (demo mode without one gets a random secret for this process)."""
    value = settings.secret_key.get_secret_value() if settings.secret_key is not None else ""
    problem = None
    if not value:
        problem = "is not set"
    elif len(value) < MIN_SECRET_LENGTH:
        problem = f"is shorter than {MIN_SECRET_LENGTH} characters"
    elif any(p in value.lower() for p in _PLACEHOLDERS) or len(set(value)) < 8:
        problem = "is a placeholder, not a secret"
    if problem is None:
        return value
    if settings.demo_mode:
        import secrets

        return secrets.token_urlsafe(32)
    raise ConfigError(
        f"{ENV_PREFIX}SECRET_KEY {problem}: set it to a random value of at least "
        f"{MIN_SECRET_LENGTH} characters (e.g. `python -c 'import secrets; "
        "print(secrets.token_urlsafe(32))'`)"
    )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``overrides``), or raise :class:`ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:  # a rule across fields: its input is every setting, secrets too
                lines.append(message)
                continue
            field = str(err["loc"][0])
            shown = "***" if "secret" in field else repr(err.get("input"))
            lines.append(f"{ENV_PREFIX}{field.upper()}: {message} (got {shown})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
