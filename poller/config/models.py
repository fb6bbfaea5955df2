"""The configuration's sections and ``Settings``: frozen pydantic models, unknown keys refused.

``Settings`` is a pydantic-settings ``BaseSettings``; ``poller.config.load_settings`` builds it
from the layers' sources (``poller.config.sources``).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from poller.config.types import BaseURL, NonEmptyStr
from poller.db_url import normalise_url
from poller.errors import ConfigError
from poller.fields import reserved_path_conflict, template_names
from poller.hosts import is_loopback_host

__all__ = [
    "CVSettings",
    "ConfigFile",
    "DatabaseSettings",
    "DiscoverySettings",
    "HTTPSettings",
    "HiBobSettings",
    "LoggingSettings",
    "MappingSettings",
    "PinpointSettings",
    "ScheduleSettings",
    "ServerSettings",
    "Settings",
    "WebSettings",
    "WorkerSettings",
]

# Settings attribute -> env var holding it (the names of the original integration).
SECRET_ENV = {
    "pinpoint_api_key": "PINPOINT_API_KEY",
    "hibob_base64_token": "HIBOB_BASE64_TOKEN",
    "web_token": "POLLER_WEB_TOKEN",  # `poller web`: the password of its HTTP Basic auth
    # Apprise URLs (slack://, msteams://, mailto://, json://...), separated by spaces, commas
    # or lines: they carry tokens, so they are secrets.
    "notify_urls": "POLLER_NOTIFY_URLS",
}
_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def notify_secrets(urls: list[str]) -> list[str]:
    """What to mask of notification URLs wherever it shows: each whole, and its token-looking
    parts (the password, and path segments and query values of 8 characters or more)."""
    secrets: list[str] = []
    for url in urls:
        secrets.append(url)
        parts = urlsplit(url)
        try:
            password = parts.password
        except ValueError:
            password = None
        if password:
            secrets.append(password)
        pieces = [*parts.path.split("/"), *(v for _, v in parse_qsl(parts.query))]
        if parts.netloc and "@" not in parts.netloc and "." not in parts.netloc:
            pieces.append(parts.netloc.split(":")[0])  # slack://TokenA/... puts a token here
        secrets.extend(p for p in pieces if len(p) >= 8)
    return secrets


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PinpointSettings(_Section):
    base_url: BaseURL = "https://developers-test.pinpointhq.com/api/v1"
    # Hires are listed by their stage's basic type (hired), whatever the stage is called.
    # Names or ids, when set, narrow that to these stages only.
    hired_stage_names: tuple[NonEmptyStr, ...] = ()
    hired_stage_ids: tuple[NonEmptyStr, ...] = ()
    requests_per_second: float = Field(default=2.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=1000)
    use_updated_filter: bool = True
    stage_cache_cycles: int = Field(default=12, ge=1)


class HiBobSettings(_Section):
    base_url: BaseURL = "https://api.hibob.com/v1"
    on_existing_employee: Literal["link", "fail"] = "link"
    create_per_minute: int = Field(default=10, ge=0)
    search_per_minute: int = Field(default=50, ge=0)
    documents_per_minute: int = Field(default=0, ge=0)
    # The start-date and name writes after a hire: HiBob publishes no limit for them, and
    # comparable writes are limited to about 10 a minute.
    update_per_minute: int = Field(default=10, ge=0)
    document_folder: Literal["shared", "confidential"] = "shared"
    document_tags: tuple[NonEmptyStr, ...] = ("CV",)
    lookup_wait_seconds: float = Field(default=25, ge=0)
    lookup_interval_seconds: float = Field(default=2, gt=0)
    # How long the site, department and title lists are trusted before being read again.
    list_cache_seconds: float = Field(default=900, ge=0)


class HTTPSettings(_Section):
    connect_timeout_seconds: float = Field(default=5, gt=0)
    read_timeout_seconds: float = Field(default=10, gt=0)
    max_retries: int = Field(default=4, ge=0)
    backoff_base_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=30, ge=0)
    ca_bundle: Path | None = None
    max_response_bytes: int = Field(default=5_000_000, gt=0)

    @field_validator("backoff_max_seconds")
    @classmethod
    def _max_above_base(cls, value: float, info: ValidationInfo) -> float:
        base = info.data.get("backoff_base_seconds")
        if base is not None and value < base:
            raise ValueError("must be at least http.backoff_base_seconds")
        return value

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("ca_bundle")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value


class WorkerSettings(_Section):
    concurrency: int = Field(default=4, ge=1, le=32)
    lease_seconds: int = Field(default=300, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=30, ge=0)
    retry_max_seconds: float = Field(default=3600, ge=0)

    @field_validator("retry_max_seconds")
    @classmethod
    def _max_above_base(cls, value: float, info: ValidationInfo) -> float:
        base = info.data.get("retry_base_seconds")
        if base is not None and value < base:
            raise ValueError("must be at least worker.retry_base_seconds")
        return value


class DatabaseSettings(_Section):
    url: NonEmptyStr = "sqlite:///poller.db"
    auto_migrate: bool = True

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        value = normalise_url(value)
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            # The URL itself may hold a password: never echo it.
            raise ValueError(
                "not a valid SQLAlchemy URL (e.g. sqlite:///poller.db or postgresql://user@host/db)"
            ) from None
        return value


class ScheduleSettings(_Section):
    interval_seconds: int = Field(default=300, ge=5)
    misfire_grace_seconds: int = Field(default=60, ge=1)
    health_stale_intervals: int = Field(default=3, ge=1)


class DiscoverySettings(_Section):
    backfill_since: datetime | None = None
    overlap_seconds: int = Field(default=600, ge=0)
    full_reconcile_hours: float = Field(default=24, ge=0)  # 0 = never
    # Act on a hire only once it has been in a hired stage this long (10 is a good
    # production value: a mis-click dragged back within it creates nobody); 0 = at once.
    settle_minutes: float = Field(default=0, ge=0)

    @field_validator("backfill_since", mode="before")
    @classmethod
    def _date_or_datetime(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            return datetime.combine(date.fromisoformat(value.strip()), time(), tzinfo=UTC)
        if isinstance(value, date) and not isinstance(value, datetime):  # a TOML date literal
            return datetime.combine(value, time(), tzinfo=UTC)
        return value

    @field_validator("backfill_since")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class MappingSettings(_Section):
    site_map: dict[str, NonEmptyStr] = {}
    default_site: str | None = None
    department_map: dict[str, NonEmptyStr] = {}
    title_map: dict[str, NonEmptyStr] = {}
    # A (mapped) value that HiBob's list lacks: "omit" sends the employee without it and
    # says so in the row; "fail" fails the row for a person to map it.
    on_unknown_title: Literal["omit", "fail"] = "omit"
    on_unknown_department: Literal["omit", "fail"] = "fail"
    default_start_offset_days: int = Field(default=14, ge=0, le=365)
    email_field: Literal["work", "personal"] = "work"
    work_email_template: str = Field(default="", validate_default=True)
    extra_fields: dict[str, str] = Field(default={}, validate_default=True)

    @field_validator("default_site", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("work_email_template")
    @classmethod
    def _template_when_personal(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value:
            if info.data.get("email_field") == "personal":
                raise ValueError(
                    'required when email_field = "personal", e.g. "{first}.{last}@acme.com"'
                )
            return value
        names = template_names(value)  # ValueError on a malformed template
        unknown = sorted(set(names) - {"first", "last"})
        if unknown:
            raise ValueError(f"may use only {{first}} and {{last}}, not {{{unknown[0]}}}")
        if value.count("@") != 1 or value.endswith("@"):
            raise ValueError('must look like "{first}.{last}@acme.com"')
        return value

    @field_validator("extra_fields")
    @classmethod
    def _extra_fields(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        email_field = info.data.get("email_field", "work")
        for path, template in value.items():
            if not _FIELD_PATH.match(path):
                raise ValueError(f"{path!r}: not a dotted HiBob field path like work.custom.x")
            conflict = reserved_path_conflict(path, email_field)
            if conflict:
                raise ValueError(f"{path!r}: {conflict}")
            try:
                template_names(template)
            except ValueError as exc:
                raise ValueError(f"{path!r}: {exc}") from None
        return value


class CVSettings(_Section):
    mode: Literal["url", "upload"] = "url"
    allowed_hosts: tuple[str, ...] = ("pinpointhq.com", "amazonaws.com")
    max_bytes: int = Field(default=5 * 1024 * 1024, gt=0)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_suffixes(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = []
        for host in hosts:
            suffix = host.strip().lower().lstrip(".")
            if not re.fullmatch(r"[a-z0-9]([a-z0-9.\-]*[a-z0-9])?", suffix):
                raise ValueError(f"{host!r} is not a host name suffix like amazonaws.com")
            cleaned.append(suffix)
        return tuple(cleaned)


class ServerSettings(_Section):
    host: NonEmptyStr = "0.0.0.0"  # noqa: S104 - the container's probe port must be reachable
    port: int = Field(default=8000, ge=0, le=65535)  # 0 = off


class WebSettings(_Section):
    """`poller web`, the read-only status page. Loopback by default: anything else needs
    POLLER_WEB_TOKEN (checked by poller.web.serve, where the token is known)."""

    host: NonEmptyStr = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)  # 0 = any free port (printed at start)
    page_size: int = Field(default=50, ge=1, le=500)  # rows per page of /applications
    # Where people reach the page (https://...), for links in notifications; "" = no links.
    public_url: str = ""

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("must be a URL like https://poller.example.com")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValueError("must be https (plain http only on a loopback host)")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must hold no credentials, query or fragment")
        return value


NotifyEvent = Literal["failed", "unhired", "changed", "done"]


class NotifySettings(_Section):
    """What the people who act are told (targets: POLLER_NOTIFY_URLS). "done" adds every
    finished hire to the default failures, un-hires and open changes."""

    events: tuple[NotifyEvent, ...] = ("failed", "unhired", "changed")


class ChangesSettings(_Section):
    """After the hire: per field, "sync" writes a change to HiBob while the employee has not
    started (after that it is flagged), "flag" records it for a person, "ignore" records it
    and does nothing. Email and job are never written (an invitation; work history)."""

    start_date: Literal["sync", "flag", "ignore"] = "sync"
    name: Literal["sync", "flag", "ignore"] = "sync"
    email: Literal["flag", "ignore"] = "flag"
    job: Literal["flag", "ignore"] = "flag"
    watch_days: int = Field(default=30, ge=0, le=3650)  # after the start date


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text", "auto"] = "auto"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "level" else value.strip().lower()


class ConfigFile(_Section):
    """The schema of config.toml: its sections, nothing else."""

    pinpoint: PinpointSettings = PinpointSettings()
    hibob: HiBobSettings = HiBobSettings()
    http: HTTPSettings = HTTPSettings()
    worker: WorkerSettings = WorkerSettings()
    database: DatabaseSettings = DatabaseSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    discovery: DiscoverySettings = DiscoverySettings()
    mapping: MappingSettings = MappingSettings()
    cv: CVSettings = CVSettings()
    server: ServerSettings = ServerSettings()
    web: WebSettings = WebSettings()
    changes: ChangesSettings = ChangesSettings()
    notify: NotifySettings = NotifySettings()
    logging: LoggingSettings = LoggingSettings()


class Settings(BaseSettings, ConfigFile):
    """The validated, frozen configuration, plus the secrets (None when not set)."""

    # As the sections: frozen, unknown names refused, defaults trusted; and a section's name
    # matched exactly by the init-kwargs source too (BaseSettings would ignore case).
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", case_sensitive=True, validate_default=False
    )

    pinpoint_api_key: SecretStr | None = None
    hibob_base64_token: SecretStr | None = None
    web_token: SecretStr | None = None
    notify_urls: SecretStr | None = None
    config_path: str | None = None

    def require_secrets(self, *, pinpoint: bool = True, hibob: bool = True) -> None:
        """Raise ConfigError listing each needed secret that is not set, and how to set it."""
        wanted = {"pinpoint_api_key": pinpoint, "hibob_base64_token": hibob}
        problems = [
            f"{var}: not set (set the env var {var}, or {var}_FILE to the path of a file "
            "holding it)"
            for attr, var in SECRET_ENV.items()
            if wanted.get(attr) and getattr(self, attr) is None
        ]
        if problems:
            raise ConfigError(problems)

    def secret_values(self) -> list[str]:
        """The raw secrets, and HiBob's decoded "<service-user-id>:<token>", for redaction."""
        values = [
            s.get_secret_value() for s in (self.pinpoint_api_key, self.hibob_base64_token) if s
        ]
        if self.web_token is not None:
            values.append(self.web_token.get_secret_value())
        values.extend(notify_secrets(self.notify_targets()))
        if self.hibob_base64_token is not None:
            try:
                decoded = base64.b64decode(
                    self.hibob_base64_token.get_secret_value(), validate=True
                )
                values.append(decoded.decode("utf-8"))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                pass  # not base64: HiBob will refuse it, and the raw form is masked anyway
        return values

    def notify_targets(self) -> list[str]:
        """The notification targets (Apprise URLs), in order, without repeats."""
        raw = self.notify_urls.get_secret_value() if self.notify_urls else ""
        return list(dict.fromkeys(u for u in re.split(r"[\s,]+", raw) if u))

    def database_url_for_display(self) -> str:
        """database.url with any password masked."""
        from sqlalchemy.engine import make_url

        return make_url(self.database.url).render_as_string(hide_password=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """``Settings(...)`` made directly takes its arguments only, like any model: no
        environment read behind the caller's back. load_settings passes the layers' sources."""
        return (init_settings,)
