"""Config loading: layering, validation, every problem at once, and secrets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from poller import redact
from poller.config import Settings, load_settings
from poller.errors import ConfigError
from poller.hosts import is_loopback_host

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The default path is ./config.toml: run from an empty directory unless a test writes one.
    monkeypatch.chdir(tmp_path)
    redact.clear_secrets()
    yield
    redact.clear_secrets()  # loading registers secrets process-wide


def write(tmp_path: Path, text: str, name: str = "config.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def problems_of(exc: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return exc.value.problems


def test_defaults_without_a_file() -> None:
    s = load_settings(env={})
    assert s.config_path is None
    # Hires are found by their stage's basic type: names and ids only narrow.
    assert s.pinpoint.hired_stage_names == () and s.pinpoint.hired_stage_ids == ()
    assert s.pinpoint.page_size == 500
    assert (s.mapping.on_unknown_title, s.mapping.on_unknown_department) == ("omit", "fail")
    assert s.hibob.on_existing_employee == "link"
    assert s.hibob.document_tags == ("CV",)
    assert s.worker.concurrency == 4
    assert s.database.url == "sqlite:///poller.db"
    assert s.discovery.backfill_since is None
    assert s.cv.allowed_hosts == ("pinpointhq.com", "amazonaws.com")
    assert s.server.port == 8000
    assert s.logging.format == "auto"
    assert s.pinpoint_api_key is None
    assert s.hibob_base64_token is None


def test_shipped_config_toml_loads() -> None:
    s = load_settings(str(REPO_ROOT / "config.toml"), env={})
    assert s.pinpoint.base_url == "http://127.0.0.1:8101/api/v1"
    assert s.hibob.base_url == "http://127.0.0.1:8102/v1"
    assert s.pinpoint.hired_stage_names == ()  # every stage of basic type hired
    assert s.mapping.site_map["London, United Kingdom"] == "London"
    assert s.mapping.default_site == "London"
    assert s.mapping.department_map == {"Product": "Engineering"}
    assert s.discovery.backfill_since == datetime(2025, 1, 1, tzinfo=UTC)
    assert s.database.url == "sqlite:///poller.db"


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(ValueError, match="frozen"):
        s.worker.concurrency = 8  # type: ignore[misc]


def test_layering_toml_then_env_then_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [worker]
        concurrency = 2
        max_attempts = 7
        [schedule]
        interval_seconds = 60
        [discovery]
        backfill_since = "2024-06-01"
        """,
    )
    env = {"POLLER_WORKER__CONCURRENCY": "8", "POLLER_SCHEDULE__INTERVAL_SECONDS": "30"}
    s = load_settings(path, overrides={"schedule": {"interval_seconds": 10}}, env=env)
    assert s.worker.concurrency == 8  # env beats the file
    assert s.worker.max_attempts == 7  # the file beats the default
    assert s.schedule.interval_seconds == 10  # the CLI beats env
    assert s.discovery.backfill_since == datetime(2024, 6, 1, tzinfo=UTC)
    assert s.config_path == path


def test_env_json_lists_and_tables_and_scalars() -> None:
    env = {
        "POLLER_PINPOINT__HIRED_STAGE_NAMES": '["Hired", "Signed"]',
        "POLLER_MAPPING__SITE_MAP": '{"Paris, France": "Paris"}',
        "POLLER_DATABASE__AUTO_MIGRATE": "false",
        "POLLER_HTTP__READ_TIMEOUT_SECONDS": "2.5",
        "POLLER_LOGGING__LEVEL": "debug",
    }
    s = load_settings(env=env)
    assert s.pinpoint.hired_stage_names == ("Hired", "Signed")
    assert s.mapping.site_map == {"Paris, France": "Paris"}
    assert s.database.auto_migrate is False
    assert s.http.read_timeout_seconds == 2.5
    assert s.logging.level == "DEBUG"


def test_config_path_from_env_and_explicit_missing_path(tmp_path: Path) -> None:
    path = write(tmp_path, "[worker]\nconcurrency = 3\n", name="other.toml")
    assert load_settings(env={"POLLER_CONFIG": path}).worker.concurrency == 3
    with pytest.raises(ConfigError) as exc:
        load_settings(str(tmp_path / "nope.toml"), env={})
    assert problems_of(exc) == [f"config file {tmp_path / 'nope.toml'}: not found"]
    with pytest.raises(ConfigError):
        load_settings(env={"POLLER_CONFIG": str(tmp_path / "nope.toml")})


def test_default_path_is_read_from_cwd(tmp_path: Path) -> None:
    write(tmp_path, "[server]\nport = 0\n")
    s = load_settings(env={})
    assert s.server.port == 0
    assert s.config_path == "config.toml"


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [worker]
        concurrency = 99
        max_atempts = 3
        [pinpoint]
        base_url = "http://pinpoint.example.com/api/v1"
        [hibob]
        on_existing_employee = "merge"
        [mapping]
        email_field = "personal"
        [colour]
        x = 1
        """,
    )
    env = {
        "POLLER_SCHEDULE__INTERVAL_SECONDS": "soon",
        "POLLER_MAPPING__SITE_MAP": "{not json",
        "PINPOINT_API_KEY": "k-123456",
        "PINPOINT_API_KEY_FILE": str(tmp_path / "key"),
    }
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env=env)
    got = "\n".join(problems_of(exc))
    expected = [
        f"worker.concurrency: Input should be less than or equal to 32 (from {path})",
        f"worker.max_atempts: unknown key (from {path})",
        f"pinpoint.base_url: must use https (plain http is allowed only for loopback hosts) "
        f"(from {path})",
        "hibob.on_existing_employee: Input should be 'link' or 'fail'",
        "mapping.work_email_template: required when email_field",
        f"colour: unknown section (from {path})",
        "schedule.interval_seconds: Input should be a valid integer"
        ", unable to parse string as an integer (from env POLLER_SCHEDULE__INTERVAL_SECONDS)",
        "mapping.site_map: not valid JSON",
        "PINPOINT_API_KEY: both PINPOINT_API_KEY and PINPOINT_API_KEY_FILE are set",
    ]
    for line in expected:
        assert line in got
    assert len(problems_of(exc)) == len(expected)
    assert "k-123456" not in got


def test_toml_syntax_error_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "[worker\nconcurrency = 2\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={"POLLER_WORKER__CONCURRENCY": "0"})
    problems = problems_of(exc)
    assert len(problems) == 2
    assert problems[0].startswith(f"config file {path}: invalid TOML:")
    assert "line 1" in problems[0]
    assert problems[1] == (
        "worker.concurrency: Input should be greater than or equal to 1 "
        "(from env POLLER_WORKER__CONCURRENCY)"
    )


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"POLLER_WORKER__CONCURENCY": "3"}, "worker.concurency: unknown key"),
        ({"POLLER_WORKERS__CONCURRENCY": "3"}, "workers: unknown section"),
    ],
)
def test_unknown_env_keys_are_errors(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env=env)
    assert problems_of(exc) == [f"{problem} (from env {next(iter(env))})"]


def test_overrides_ignore_none_and_are_not_mutated(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[discovery]\nbackfill_since = "2024-01-01"\n[worker]\nconcurrency = 2\n'
    )
    overrides: dict[str, dict[str, object]] = {
        "discovery": {"backfill_since": None},
        "worker": {"concurrency": 3},
    }
    s = load_settings(path, overrides=overrides, env={"POLLER_WORKER__MAX_ATTEMPTS": "9"})
    assert s.discovery.backfill_since == datetime(2024, 1, 1, tzinfo=UTC)
    assert (s.worker.concurrency, s.worker.max_attempts) == (3, 9)
    assert overrides == {"discovery": {"backfill_since": None}, "worker": {"concurrency": 3}}


def test_unrelated_poller_env_vars_are_ignored() -> None:
    load_settings(env={"POLLER_TEST_POSTGRES_URL": "x", "POLLER_CONFIG": ""})


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.hibob.com/v1/", True),
        ("http://127.0.0.1:8102/v1", True),
        ("http://127.9.9.9/v1", True),
        ("http://localhost:8102/v1", True),
        ("http://[::1]:8102/v1", True),
        ("http://api.hibob.com/v1", False),
        ("http://10.0.0.5/v1", False),
        ("ftp://api.hibob.com/v1", False),
        ("api.hibob.com/v1", False),
        ("https://user:pw@api.hibob.com/v1", False),
        ("https://api.hibob.com/v1?x=1", False),
    ],
)
def test_base_urls_https_except_loopback(url: str, ok: bool) -> None:
    env = {"POLLER_HIBOB__BASE_URL": url}
    if ok:
        assert load_settings(env=env).hibob.base_url == url.rstrip("/")
    else:
        with pytest.raises(ConfigError) as exc:
            load_settings(env=env)
        (problem,) = problems_of(exc)
        assert problem.startswith("hibob.base_url: ")
        assert "pw" not in problem


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("128.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - a host name under test, not a bind
        ("localhost.example.com", False),
        ("api.hibob.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("url", "stored", "shown"),
    [
        ("sqlite:///poller.db", "sqlite:///poller.db", "sqlite:///poller.db"),
        (
            "postgresql://poller:s3cr3t@db:5432/poller",
            "postgresql+psycopg://poller:s3cr3t@db:5432/poller",
            "postgresql+psycopg://poller:***@db:5432/poller",
        ),
        ("postgres://poller@db/poller", "postgresql+psycopg://poller@db/poller", None),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d", None),
    ],
)
def test_database_url(url: str, stored: str, shown: str | None) -> None:
    s = load_settings(env={"POLLER_DATABASE__URL": url})
    assert s.database.url == stored
    assert s.database_url_for_display() == (shown or stored)


def test_bad_database_url_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env={"POLLER_DATABASE__URL": "not a url pass=hunter2"})
    (problem,) = problems_of(exc)
    assert problem.startswith("database.url: not a valid SQLAlchemy URL")
    assert "hunter2" not in problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-01", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T10:00:00", datetime(2025, 1, 1, 10, tzinfo=UTC)),
        ("2025-01-01T10:00:00+02:00", datetime(2025, 1, 1, 8, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_backfill_since_forms(value: str, expected: datetime) -> None:
    s = load_settings(overrides={"discovery": {"backfill_since": value}}, env={})
    assert s.discovery.backfill_since == expected


def test_backfill_since_toml_date_literal(tmp_path: Path) -> None:
    path = write(tmp_path, "[discovery]\nbackfill_since = 2024-02-03\n")
    s = load_settings(path, env={})
    assert s.discovery.backfill_since == datetime(2024, 2, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("section", "values", "problem"),
    [
        ("pinpoint", {"page_size": 1001}, "pinpoint.page_size: Input should be less than"),
        ("mapping", {"on_unknown_title": "skip"}, "mapping.on_unknown_title: Input should be"),
        ("pinpoint", {"hired_stage_names": [" "]}, "pinpoint.hired_stage_names.0: must not be"),
        ("schedule", {"interval_seconds": 4}, "schedule.interval_seconds: Input should be greater"),
        ("worker", {"retry_max_seconds": 1}, "worker.retry_max_seconds: must be at least"),
        ("http", {"backoff_max_seconds": 0.1}, "http.backoff_max_seconds: must be at least"),
        ("http", {"ca_bundle": "/nonexistent/ca.pem"}, "http.ca_bundle: no such file"),
        ("mapping", {"default_start_offset_days": 400}, "mapping.default_start_offset_days"),
        ("mapping", {"work_email_template": "{first}.{surname}@x.com"}, "not {surname}"),
        ("mapping", {"work_email_template": "{first}.{last}"}, "must look like"),
        ("mapping", {"extra_fields": {"work.site": "x"}}, "collides with the core field"),
        ("mapping", {"extra_fields": {"work": "x"}}, "collides with the core field work.site"),
        ("mapping", {"extra_fields": {"bad path": "x"}}, "not a dotted HiBob field path"),
        ("mapping", {"extra_fields": {"a.b": "{oops"}}, "mapping.extra_fields: 'a.b': "),
        ("cv", {"allowed_hosts": ["https://x.com/"]}, "not a host name suffix"),
        ("cv", {"mode": "fetch"}, "cv.mode: Input should be 'url' or 'upload'"),
        ("logging", {"level": "verbose"}, "logging.level: Input should be"),
        ("server", {"port": 70000}, "server.port: Input should be less than"),
    ],
)
def test_validation_rules(section: str, values: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(overrides={section: values}, env={})
    (line,) = problems_of(exc)
    assert problem in line
    assert line.endswith("(from command line)")


def test_normalisation() -> None:
    s = load_settings(
        overrides={
            "cv": {"allowed_hosts": [".S3.AmazonAWS.com"]},
            "logging": {"level": "warning", "format": "JSON"},
            "mapping": {
                "default_site": "",
                "email_field": "personal",
                "work_email_template": " {first}.{last}@acme.com ",
            },
            "pinpoint": {"hired_stage_names": [" Hired "]},
        },
        env={},
    )
    assert s.cv.allowed_hosts == ("s3.amazonaws.com",)
    assert (s.logging.level, s.logging.format) == ("WARNING", "json")
    assert s.mapping.default_site is None
    assert s.mapping.work_email_template == "{first}.{last}@acme.com"
    assert s.pinpoint.hired_stage_names == ("Hired",)


# ------------------------------------------------------------------------------ secrets


def test_secrets_from_env() -> None:
    s = load_settings(env={"PINPOINT_API_KEY": " pp-key-1 ", "HIBOB_BASE64_TOKEN": "dTpzZWNyZXQ="})
    assert s.pinpoint_api_key is not None
    assert s.pinpoint_api_key.get_secret_value() == "pp-key-1"
    assert s.secret_values() == ["pp-key-1", "dTpzZWNyZXQ=", "u:secret"]
    s.require_secrets()
    assert "pp-key-1" not in repr(s)
    # Registered with the redactor at load time, decoded forms included.
    assert redact.redact("key pp-key-1 tok dTpzZWNyZXQ= raw u:secret") == "key *** tok *** raw ***"


def test_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "pp").write_text("pp-file-key\n", encoding="utf-8")
    (tmp_path / "hb").write_text("aGI6dG9rZW4=\n", encoding="utf-8")
    s = load_settings(
        env={
            "PINPOINT_API_KEY_FILE": str(tmp_path / "pp"),
            "HIBOB_BASE64_TOKEN_FILE": str(tmp_path / "hb"),
        }
    )
    assert s.secret_values() == ["pp-file-key", "aGI6dG9rZW4=", "hb:token"]


def test_secret_file_problems_are_all_listed(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(
            env={
                "PINPOINT_API_KEY_FILE": str(tmp_path / "missing"),
                "HIBOB_BASE64_TOKEN_FILE": str(tmp_path / "empty"),
            }
        )
    assert problems_of(exc) == [
        f"PINPOINT_API_KEY_FILE: can't read {tmp_path / 'missing'}: No such file or directory",
        f"HIBOB_BASE64_TOKEN_FILE: {tmp_path / 'empty'} is empty",
    ]


def test_a_secret_with_a_line_break_inside_is_refused_without_showing_it(tmp_path: Path) -> None:
    # A mounted file with two lines, or a pasted token with a space: both would go into an
    # HTTP header, which refuses them on every request.
    (tmp_path / "pp").write_text("pp_live_FIRST\npp_live_SECOND\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(
            env={"PINPOINT_API_KEY_FILE": str(tmp_path / "pp"), "HIBOB_BASE64_TOKEN": "Basic xyz"}
        )
    assert problems_of(exc) == [
        "PINPOINT_API_KEY: contains a space, line break or control character",
        "HIBOB_BASE64_TOKEN: contains a space, line break or control character",
    ]
    assert "pp_live" not in str(exc.value) and "xyz" not in str(exc.value)


def test_both_env_and_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "hb").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_settings(
            env={"HIBOB_BASE64_TOKEN": "abcd", "HIBOB_BASE64_TOKEN_FILE": str(tmp_path / "hb")}
        )
    assert problems_of(exc) == [
        "HIBOB_BASE64_TOKEN: both HIBOB_BASE64_TOKEN and HIBOB_BASE64_TOKEN_FILE are set; "
        "set only one"
    ]


def test_require_secrets_lists_each_missing_one() -> None:
    s = load_settings(env={})
    with pytest.raises(ConfigError) as exc:
        s.require_secrets()
    assert [p.split(":")[0] for p in problems_of(exc)] == ["PINPOINT_API_KEY", "HIBOB_BASE64_TOKEN"]
    assert "PINPOINT_API_KEY_FILE" in problems_of(exc)[0]
    s.require_secrets(pinpoint=False, hibob=False)
    with pytest.raises(ConfigError) as exc:
        s.require_secrets(pinpoint=False)
    assert len(problems_of(exc)) == 1


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        ('[pinpoint]\napi_key = "abc"\n', "pinpoint.api_key"),
        ('[hibob]\ntoken = "abc"\n', "hibob.token"),
        ('[database]\npassword = "abc"\n', "database.password"),
        ('[secrets]\nPINPOINT_API_KEY = "abc"\n', "secrets"),
    ],
)
def test_secret_in_toml_is_an_error(tmp_path: Path, toml: str, where: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={})
    (problem,) = problems_of(exc)
    assert problem.startswith(f"{where}: secrets don't belong in the config")
    assert "abc" not in problem


def test_secret_in_env_override_is_an_error() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(env={"POLLER_PINPOINT__API_KEY": "abc"})
    (problem,) = problems_of(exc)
    assert problem.startswith("pinpoint.api_key: secrets don't belong here; set PINPOINT_API_KEY")


def test_settings_type_is_exported() -> None:
    assert isinstance(load_settings(env={}), Settings)


# ------------------------------------------------------------------------------ [web]


def test_web_defaults_are_loopback_and_no_token() -> None:
    s = load_settings(env={})
    assert (s.web.host, s.web.port, s.web.page_size) == ("127.0.0.1", 8080, 50)
    assert s.web_token is None


def test_shipped_config_toml_has_the_web_section() -> None:
    s = load_settings(str(REPO_ROOT / "config.toml"), env={})
    assert (s.web.host, s.web.port) == ("127.0.0.1", 8080)


def test_web_keys_from_file_env_and_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[web]\nhost = "10.1.2.3"\nport = 9000\n')
    s = load_settings(path, env={"POLLER_WEB__PORT": "9100"})
    assert (s.web.host, s.web.port) == ("10.1.2.3", 9100)
    s = load_settings(path, overrides={"web": {"host": None, "port": 9200}}, env={})
    assert (s.web.host, s.web.port) == ("10.1.2.3", 9200)


def test_web_problems_are_listed_with_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, "[web]\nport = 70000\nbind = 1\n[worker]\nconcurrency = 0\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={})
    where = sorted(p.split(":")[0] for p in problems_of(exc))
    assert where == ["web.bind", "web.port", "worker.concurrency"]


def test_web_token_from_env_is_registered_for_redaction() -> None:
    s = load_settings(env={"POLLER_WEB_TOKEN": " web-token-123 "})
    assert s.web_token is not None and s.web_token.get_secret_value() == "web-token-123"
    assert s.secret_values() == ["web-token-123"]
    assert "web-token-123" not in repr(s)
    assert redact.redact("password web-token-123") == "password ***"
    s.require_secrets(pinpoint=False, hibob=False)  # the poller itself never needs it


def test_web_token_from_a_file_and_its_problems(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("file-token-456\n", encoding="utf-8")
    s = load_settings(env={"POLLER_WEB_TOKEN_FILE": str(tmp_path / "tok")})
    assert s.web_token is not None and s.web_token.get_secret_value() == "file-token-456"
    with pytest.raises(ConfigError) as exc:
        load_settings(
            env={"POLLER_WEB_TOKEN": "abcd", "POLLER_WEB_TOKEN_FILE": str(tmp_path / "tok")}
        )
    assert problems_of(exc) == [
        "POLLER_WEB_TOKEN: both POLLER_WEB_TOKEN and POLLER_WEB_TOKEN_FILE are set; set only one"
    ]
    with pytest.raises(ConfigError) as exc:
        load_settings(env={"POLLER_WEB_TOKEN_FILE": str(tmp_path / "missing")})
    assert problems_of(exc)[0].startswith("POLLER_WEB_TOKEN_FILE: can't read")


def test_web_token_in_the_file_or_an_override_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[web]\ntoken = "hunter22"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={"POLLER_WEB__TOKEN": "hunter33"})
    problems = problems_of(exc)
    assert problems[0].startswith(
        "web.token: secrets don't belong in the config; set POLLER_WEB_TOKEN"
    )
    assert problems[1].startswith("web.token: secrets don't belong here; set POLLER_WEB_TOKEN")
    assert "hunter2" not in str(exc.value) and "hunter3" not in str(exc.value)
