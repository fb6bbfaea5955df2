"""The configuration's layers as pydantic-settings sources, and every problem they find.

Priority, highest first, as pydantic-settings merges them: CLI flags (its init-kwargs source) >
env ``POLLER_<SECTION>__<KEY>`` > config.toml > the defaults. The secrets are fields of their own
with a source of their own, the environment: ``PINPOINT_API_KEY``, ``HIBOB_BASE64_TOKEN`` and
``POLLER_WEB_TOKEN``, or their ``*_FILE`` forms.

pydantic-settings' own sources raise at the first bad value and forget which layer a value came
from; both are part of the contract ("every problem listed", each naming its source). So these
sources keep going: what they can't use becomes a problem line and is left out, and each records
which label (the file's path, "env POLLER_WORKER__CONCURRENCY", "command line") set each key, so
that pydantic's validation errors name it too.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource

from poller.config.models import SECRET_ENV, ConfigFile
from poller.errors import ConfigError

S = TypeVar("S", bound=BaseSettings)

DEFAULT_CONFIG_PATH = "config.toml"
ENV_PREFIX = "POLLER_"

_SECRET_KEY = re.compile(r"(?i)(api_?key|token|password|passwd|secret|credential)")
_SECRET_ENV_HINT = {
    "pinpoint": "PINPOINT_API_KEY",
    "hibob": "HIBOB_BASE64_TOKEN",
    "web": "POLLER_WEB_TOKEN",
    "notify": "POLLER_NOTIFY_URLS",
}
# Notification targets are URLs that carry tokens: never in the config file either.
_NOTIFY_TARGET_KEYS = frozenset({"url", "urls", "target", "targets"})
_BAD_IN_SECRET = re.compile(r"[\s\x00-\x1f\x7f]")
# A list of secrets (notification URLs), separated by spaces, commas or lines.
_BAD_IN_SECRET_LIST = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SECRET_LISTS = frozenset({"notify_urls"})


def load(
    settings_cls: type[S],
    path: str | None,
    overrides: Mapping[str, Mapping[str, object]],
    env: Mapping[str, str],
) -> S:
    """``settings_cls`` built by pydantic-settings from the layers; else a ConfigError listing
    the sources' problems, then pydantic's, each naming the layer its value came from."""
    origin = _Origin()  # filled lowest layer first: see _Layer.add
    explicit = path or env.get("POLLER_CONFIG") or None
    toml = TomlFileSource(
        settings_cls, origin, explicit or DEFAULT_CONFIG_PATH, explicit is not None
    )
    environ = PollerEnvSource(settings_cls, origin, env)
    flags = _Layer(settings_cls, origin)
    # A flag that was not given arrives as None: it must not hide the file's value.
    flags.add(
        {s: {k: v for k, v in values.items() if v is not None} for s, values in overrides.items()},
        "command line",
    )
    secrets = SecretEnvSource(settings_cls, env)
    sources = (InitSettingsSource(settings_cls, init_kwargs=flags.data), environ, toml, secrets)

    problems = [*toml.layer.problems, *environ.layer.problems, *secrets.problems]
    errors: list[ErrorDetails] = []
    try:
        settings = settings_cls(_build_sources=(sources, {}))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    problems.extend(_error_lines(errors, origin))
    if problems:
        raise ConfigError(problems)
    return settings


class _Origin:
    """Which layer set each (section,) and (section, key): its label, for the error lines."""

    def __init__(self) -> None:
        self.labels: dict[tuple[str, ...], str] = {}
        # Settings' fields that are not sections (the secrets, config_path), which a layer
        # set: withheld from validation, so reported here as the unknown sections they are.
        self.withheld: set[str] = set()

    def label(self, loc: tuple[str, ...]) -> str | None:
        return self.labels.get(loc[:2]) or self.labels.get(loc[:1])


class _Layer:
    """What one layer sets, in the shape a source returns, and its problems."""

    def __init__(self, settings_cls: type[BaseSettings], origin: _Origin) -> None:
        self._reserved = frozenset(settings_cls.model_fields) - frozenset(ConfigFile.model_fields)
        self._origin = origin
        self.data: dict[str, Any] = {}
        self.problems: list[str] = []

    def add(self, sections: Mapping[str, Any], label: str) -> None:
        """Add ``sections``, set by ``label``. Layers are added lowest first: a key is named
        after the highest layer that set it, a section after the lowest that did."""
        labels = self._origin.labels
        for section, values in sections.items():
            labels.setdefault((section,), label)
            if not isinstance(values, Mapping):
                labels[(section,)] = label
            if section in self._reserved:
                self._origin.withheld.add(section)
                continue
            if not isinstance(values, Mapping):
                self.data[section] = values
                continue
            merged = self.data.get(section)
            if not isinstance(merged, dict):  # never the caller's dict: we write into it
                merged = self.data[section] = {}
            for key, value in values.items():
                # pydantic-settings deep-merges the layers, but only plain dicts. Read-only, a
                # table (site_map, extra_fields...) from a higher layer replaces a lower one's
                # whole, as it always has, instead of being merged with it key by key.
                merged[key] = MappingProxyType(value) if isinstance(value, dict) else value
                labels[(section, key)] = label


class _LayerSource(PydanticBaseSettingsSource):
    """A source whose values are one ``_Layer``, read when the source is made."""

    def __init__(self, settings_cls: type[BaseSettings], origin: _Origin) -> None:
        super().__init__(settings_cls)
        self.layer = _Layer(settings_cls, origin)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.layer.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self.layer.data


class TomlFileSource(_LayerSource):
    """config.toml: absent is fine at the default path, an error at an explicit one. A
    secret-looking key is refused (its value never shown); config_path records the file read."""

    def __init__(
        self, settings_cls: type[BaseSettings], origin: _Origin, path: str, explicit: bool
    ) -> None:
        super().__init__(settings_cls, origin)
        data = _read_toml(path, explicit, self.layer.problems)
        if data is not None:
            self.layer.problems.extend(_secret_key_problems(data, f"from {path}"))
            self.layer.add(_strip_secret_keys(data), path)
            self.layer.data["config_path"] = path


class PollerEnvSource(_LayerSource):
    """``POLLER_<SECTION>__<KEY>``, one key a variable, in sorted order for stable output; lists
    and tables as JSON. Unknown sections and keys are passed on, for validation to refuse."""

    def __init__(
        self, settings_cls: type[BaseSettings], origin: _Origin, env: Mapping[str, str]
    ) -> None:
        super().__init__(settings_cls, origin)
        for name in sorted(env):
            if not name.upper().startswith(ENV_PREFIX) or "__" not in name:
                continue
            section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
            label = f"env {name}"
            if _is_secret_key(section, key) or _SECRET_KEY.search(section):
                self.layer.problems.append(
                    f"{section}.{key}: secrets don't belong here; set {_secret_env_hint(section)} "
                    f"(or its *_FILE form) instead (from {label})"
                )
                continue
            value: Any = env[name]
            field = _key_field(section, key)
            if field is not None and self.field_is_complex(field):
                try:
                    value = self.decode_complex_value(key, field, value)
                except json.JSONDecodeError as exc:
                    self.layer.problems.append(
                        f"{section}.{key}: not valid JSON ({exc.msg}) (from {label})"
                    )
                    continue
            self.layer.add({section: {key: value}}, label)


class SecretEnvSource(PydanticBaseSettingsSource):
    """Each secret from its variable, or from the file its ``*_FILE`` variable names (a mounted
    Kubernetes secret), never both. Trimmed; refused (never shown) when empty or when it holds
    a space or control character, as it goes into an HTTP header."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.problems: list[str] = []
        self._values = {
            attr: self._read(var, env, listed=attr in _SECRET_LISTS)
            for attr, var in SECRET_ENV.items()
        }

    def _read(self, var: str, env: Mapping[str, str], *, listed: bool = False) -> SecretStr | None:
        direct = env.get(var, "").strip()
        file_path = env.get(f"{var}_FILE", "").strip()
        value = None
        if direct and file_path:
            self.problems.append(f"{var}: both {var} and {var}_FILE are set; set only one")
        elif file_path:
            try:
                content = Path(file_path).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                self.problems.append(f"{var}_FILE: can't read {file_path}: {reason}")
            else:
                if content:
                    value = content
                else:
                    self.problems.append(f"{var}_FILE: {file_path} is empty")
        elif direct:
            value = direct
        if listed:
            if value is not None and _BAD_IN_SECRET_LIST.search(value):
                self.problems.append(f"{var}: contains a control character")
        elif value is not None and _BAD_IN_SECRET.search(value):
            # Sent in an HTTP header: a line break would be refused on every request.
            self.problems.append(f"{var}: contains a space, line break or control character")
        return None if value is None else SecretStr(value)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {name: value for name, value in self._values.items() if value is not None}


def _key_field(section: str, key: str) -> FieldInfo | None:
    """The field of section.key, or None if there is no such key."""
    section_field = ConfigFile.model_fields.get(section)
    model = section_field.annotation if section_field else None
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model.model_fields.get(key)
    return None


def _read_toml(path: str, explicit: bool, problems: list[str]) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        if explicit:
            problems.append(f"config file {path}: not found")
        return None
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"config file {path}: invalid TOML: {exc}")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"config file {path}: can't be read: {exc}")
    return None


def _is_secret_section(section: str) -> bool:
    return section == "secrets" or bool(_SECRET_KEY.search(section))


def _secret_key_problems(data: Mapping[str, Any], label: str) -> list[str]:
    """Secret-looking keys anywhere but inside the mapping's user-data tables."""
    problems = []
    for section, values in data.items():
        if _is_secret_section(section):
            problems.append(
                f"{section}: secrets don't belong in the config; set PINPOINT_API_KEY and "
                f"HIBOB_BASE64_TOKEN (or their *_FILE forms) in the environment ({label})"
            )
            continue
        if isinstance(values, Mapping):
            problems.extend(
                f"{section}.{key}: secrets don't belong in the config; set "
                f"{_secret_env_hint(section)} (or its *_FILE form) in the environment ({label})"
                for key in values
                if _is_secret_key(section, key)
            )
    return problems


def _strip_secret_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """Drop what ``_secret_key_problems`` reported, so it is not reported twice."""
    out: dict[str, Any] = {}
    for section, values in data.items():
        if _is_secret_section(section):
            continue
        if isinstance(values, Mapping):
            out[section] = {k: v for k, v in values.items() if not _is_secret_key(section, k)}
        else:
            out[section] = values
    return out


def _is_secret_key(section: str, key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) or (
        section == "notify" and key.lower() in _NOTIFY_TARGET_KEYS
    )


def _secret_env_hint(section: str) -> str:
    return _SECRET_ENV_HINT.get(section, "PINPOINT_API_KEY / HIBOB_BASE64_TOKEN")


def _error_lines(errors: list[ErrorDetails], origin: _Origin) -> list[str]:
    """One line per error, naming its layer. Unknown sections come last, in the order the
    layers first named them (lowest first), as pydantic lists extra keys in input order."""
    lines = []
    unknown = set(origin.withheld)
    for err in errors:
        loc = tuple(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            if len(loc) == 1:
                unknown.add(loc[0])
                continue
            message = "unknown key"
        label = origin.label(loc)
        lines.append(
            f"{'.'.join(loc) or 'config'}: {message}" + (f" (from {label})" if label else "")
        )
    order = list(origin.labels)
    for section in sorted(unknown, key=lambda name: order.index((name,))):
        lines.append(f"{section}: unknown section (from {origin.labels[(section,)]})")
    return lines
