"""Settings of one installation, read once from BBPORTAL_* environment variables (and an optional .env)."""

from __future__ import annotations

import json
import math
import secrets
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.platform.errors import ConfigurationError
from core.platform.signing import SecretKeys

MIN_SECRET_LENGTH = 32
MIN_SECRET_ENTROPY_BITS = 128
MIN_METRICS_TOKEN_LENGTH = 24


class Settings(BaseSettings):
    """Everything an operator can set; nothing else in the code reads ``os.environ``."""

    model_config = SettingsConfigDict(env_prefix="BBPORTAL_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"))
    """Local folder for the SQLite file, mail files, attachments and the generated embedded secret."""

    database_url: str = ""
    """SQLAlchemy URL; empty means the embedded SQLite file in ``data_dir``."""

    secret_key: str = ""
    """Signs sessions, CSRF tokens and reply addresses. Empty (embedded only) means one generated per data folder."""

    secret_key_fallbacks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Earlier secret keys, still accepted on what they signed (sessions, API tokens, reply addresses, links,
    CSRF tokens, device cookies) while everything new is signed with ``secret_key``: a rotation without
    logging everyone out. Comma-separated (or a JSON list); drop a key to stop everything it signed."""

    base_url: str = "http://127.0.0.1:8000"
    """The address people reach the portal at; used in mails and printed on start."""

    default_language: str = "sv"
    """Language for visitors and new users: ``sv`` or ``en``."""

    production: bool = False
    """Production mode refuses unsafe settings instead of filling them in."""

    redis_url: str = ""
    """Redis for the Dramatiq broker (production); empty means the in-process embedded worker."""

    redis_namespace: str = "bbportal"
    """Prefix of the broker's keys in Redis (several installations, or test runs, can share one Redis)."""

    db_pool_size: int = Field(default=10, ge=1)
    """PostgreSQL: connections each process keeps open (one pool per web process, worker process, relay …;
    see docs/operations.md for the sum that must stay under the server's ``max_connections``)."""
    db_max_overflow: int = Field(default=10, ge=0)
    """PostgreSQL: connections a process may open beyond its pool at busy moments (closed again after use)."""

    embedded_worker: bool | None = None
    """Run the worker and relay beside the web (in the web process, or ``serve``'s background process); default:
    yes unless in production mode or with a Redis broker (``redis_url``: then ``bbportal relay`` and the dramatiq
    workers do that work, and an embedded one beside them would only compete for the same outbox rows)."""

    release_time: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    """Time of day (Europe/Stockholm) at which requests scheduled for a date join the queue."""

    tick_seconds: float = 5.0
    """How often the worker side releases scheduled requests that have become due."""

    mail_from: str = "BBGRUPPEN Portal <portal@bbgruppen.example>"
    """From header of every mail; its domain must be ours (SPF/DKIM/DMARC, see docs/operations.md)."""

    mail_envelope_from: str = "bounces@bbgruppen.example"
    """Envelope sender (Return-Path): where bounces go."""

    reply_domain: str = "svar.bbgruppen.example"
    """Domain of the per-request reply addresses (svar+<token>@…); its MX points at our intake."""

    inbound_mail_max_mb: float = Field(default=25.0, gt=0)
    """Largest inbound mail (as received, encoded) the intake takes, in megabytes; larger mail is refused
    permanently (SMTP 552, pipe exit 65). Keep the MTA's ``message_size_limit`` at or below it."""

    smtp_host: str = ""
    """Empty: mails are written as .eml files into <data_dir>/mail (embedded mode)."""
    smtp_port: int = 587
    smtp_security: str = Field(default="starttls", pattern="^(starttls|tls|none)$")
    smtp_username: str = ""
    smtp_password: str = ""

    password_link_hours: float = 1.0
    """How long a password-reset link works."""

    invitation_link_hours: float = 72.0
    """How long an invitation (set your password) link works."""

    reminder_working_days: int = 3
    """Working days a request waits for the customer before one reminder mail (0: no reminders)."""

    session_days: int = 14
    """How long a log-in session lives after the user last used it (each use extends it)."""

    login_attempts_per_account: int = 5
    """Failed log-ins on one account before each further try waits (1 s, doubling; see core/accounts/throttle.py)."""
    login_attempts_per_address: int = 20
    """Failed log-ins from one client address, over all accounts, before its tries wait."""
    login_throttle_minutes: int = 15
    """The longest wait between two tries; nothing is ever locked for longer."""

    outbox_max_wait_minutes: float = Field(default=5.0, gt=0)
    """How long a due background job (a mail, a fulfilment) may wait for the relay before ``/readyz`` answers
    503: the relay is gone, or cannot keep up."""

    fulfilment_alert_minutes: int = Field(default=15, ge=1)
    """How long an automatic step may keep failing for a passing reason (the hosted system does not answer)
    before the request is flagged for staff and the alert address is mailed; the retries go on."""

    fulfilment_alert_address: str = ""
    """Where that alert goes; empty: the local office of the request's organisation."""

    forwarded_allow_ips: str = "127.0.0.1"
    """The reverse proxies whose ``X-Forwarded-For``/``-Proto`` are believed (uvicorn's forwarded-allow-ips): a
    comma-separated list of addresses or networks, or ``*``. Behind a proxy on another host, name it here, or
    every client has the proxy's address (and shares its log-in throttle and rate limits)."""

    rate_limit_api_per_user: int = Field(default=600, ge=0)
    """API calls per minute one user (with any of their tokens, or their session) may make; 0: no limit."""
    rate_limit_api_per_address: int = Field(default=1200, ge=0)
    """API calls per minute from one client address (all users behind it); 0: no limit."""
    rate_limit_filings_per_user: int = Field(default=60, ge=0)
    """Requests one user may file per minute, by form or API; 0: no limit."""

    storage_dir: Path | None = None
    """Folder for stored files (attachments, extracts); default ``<data_dir>/files``. Point it at shared
    storage when several machines serve the portal."""

    storage_url: str = ""
    """Empty: files in ``storage_dir``. ``s3://bucket/prefix``: files in S3-compatible storage (the ``s3``
    extra, boto3), shared by every machine; see the ``s3_*`` settings."""
    s3_endpoint_url: str = ""
    """The S3-compatible server (``https://s3.example.net``); empty: AWS S3 itself."""
    s3_region: str = ""
    """The bucket's region; empty: boto3's default (``AWS_DEFAULT_REGION``, or us-east-1)."""
    s3_access_key_id: str = ""
    """Credentials for the bucket; empty: boto3's own chain (``AWS_*`` variables, an instance role)."""
    s3_secret_access_key: str = ""

    outbox_keep_days: int = Field(default=30, ge=1)
    """Done background jobs are deleted by housekeeping this many days after they were done (failed ones stay
    until staff retry them)."""

    extract_keep_days: int = Field(default=30, ge=0)
    """How long files a fulfilment made for the customer (extracts of a system's users or log) stay on the
    request before housekeeping removes them; 0: kept for ever."""

    attachment_max_mb: float = 10.0
    """Largest file a person may attach to a message (uploads and mail attachments), in megabytes."""

    page_size: int = 25
    """Rows per page on lists."""

    @field_validator("secret_key_fallbacks", mode="before")
    @classmethod
    def _split_fallbacks(cls, value: Any) -> Any:
        """``old1,old2`` (what an env file holds) or a JSON list; blanks are no keys."""
        if isinstance(value, str):
            text = value.strip()
            found = json.loads(text) if text.startswith("[") else text.split(",")
            return [str(key).strip() for key in found if str(key).strip()]
        return value

    @property
    def secret_keys(self) -> SecretKeys:
        """The current key and the fallbacks still accepted (:class:`core.platform.signing.SecretKeys`)."""
        current = self.resolved_secret_key
        return SecretKeys(current, tuple(key for key in dict.fromkeys(self.secret_key_fallbacks) if key != current))

    log_format: str | None = Field(default=None, pattern="^(text|json)$")
    """``text`` (readable lines) or ``json`` (one JSON object a line, for a log collector); default: json in
    production mode, text otherwise. Either way every line of a web request carries its request id."""

    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    """The least important log lines written: DEBUG, INFO, WARNING or ERROR."""

    metrics_token: str = ""
    """The bearer token Prometheus sends to ``/metrics`` (``Authorization: Bearer …``); empty: ``/metrics`` does
    not exist (404) and the web processes keep no request metrics."""

    metrics_dir: Path | None = Field(default=None, validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR"))
    """prometheus_client's own ``PROMETHEUS_MULTIPROC_DIR`` (read here so that the portal knows it too): the folder
    in which every process of this host (web processes, Dramatiq workers, relay, mail listener) keeps its
    counters, and from which ``/metrics`` adds them up. Required in production mode when ``metrics_token`` is set:
    without it a scrape sees only the counters of the one web process that answered it."""

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bbportal.db').resolve()}"

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "files"

    @property
    def inbound_mail_max_bytes(self) -> int:
        return int(self.inbound_mail_max_mb * 1024 * 1024)

    @property
    def attachment_max_bytes(self) -> int:
        return int(self.attachment_max_mb * 1024 * 1024)

    @property
    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        if self.production:
            raise ConfigurationError("BBPORTAL_SECRET_KEY is required in production mode.")
        return _embedded_secret(self.data_dir)

    @property
    def resolved_log_format(self) -> str:
        return self.log_format or ("json" if self.production else "text")

    @property
    def runs_embedded_worker(self) -> bool:
        if self.embedded_worker is None:
            return not self.production and not self.redis_url
        return self.embedded_worker

    def check_production(self) -> None:
        """Refuse to start in production with a setting that would be unsafe there (one-line reason)."""
        if not self.production:
            return
        if not self.secret_key:
            raise ConfigurationError("BBPORTAL_SECRET_KEY is required in production mode.")
        if _weak(self.secret_key):
            raise ConfigurationError(
                f"BBPORTAL_SECRET_KEY is too weak: use at least {MIN_SECRET_LENGTH} random characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        if any(_weak(key) for key in self.secret_key_fallbacks):
            raise ConfigurationError(
                "A key in BBPORTAL_SECRET_KEY_FALLBACKS is too weak: whoever guesses it can sign as the portal. "
                "Drop it (what it signed stops working)."
            )
        if self.resolved_database_url.startswith("sqlite"):
            raise ConfigurationError(
                "SQLite is the embedded default only: set BBPORTAL_DATABASE_URL to PostgreSQL in production mode."
            )
        if self.default_language not in ("sv", "en"):
            raise ConfigurationError("BBPORTAL_DEFAULT_LANGUAGE must be 'sv' or 'en'.")
        if self.metrics_token and len(self.metrics_token) < MIN_METRICS_TOKEN_LENGTH:
            raise ConfigurationError(
                f"BBPORTAL_METRICS_TOKEN is too short: use at least {MIN_METRICS_TOKEN_LENGTH} random characters."
            )
        if self.metrics_token and self.metrics_dir is None:
            raise ConfigurationError(
                "BBPORTAL_METRICS_TOKEN is set but PROMETHEUS_MULTIPROC_DIR is not: every process of the host needs "
                "that folder (e.g. /run/bbportal/metrics), or /metrics shows only one web process's counters."
            )


def _weak(key: str) -> bool:
    return len(key) < MIN_SECRET_LENGTH or _entropy_bits(key) < MIN_SECRET_ENTROPY_BITS


def _entropy_bits(value: str) -> float:
    """Shannon estimate of the secret's entropy: catches 'aaaa…' and short alphabets, not a proof of randomness."""
    counts = Counter(value)
    per_char = -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())
    return per_char * len(value)


def _embedded_secret(data_dir: Path) -> str:
    """One random secret per data folder, so that an embedded portal keeps its sessions over restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
