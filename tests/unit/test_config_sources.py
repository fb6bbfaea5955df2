"""Config loading on pydantic-settings: what its merge and sources must not change.

tests/unit/test_config.py pins the behaviour; these pin what pydantic-settings would do
otherwise: deep-merge tables across layers, read os.environ, let a layer set a field that is
not a section, or order the unknown sections differently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from poller import redact
from poller.config import Settings, load_settings
from poller.errors import ConfigError


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    redact.clear_secrets()
    yield
    redact.clear_secrets()


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_table_from_a_higher_layer_replaces_the_lower_one_whole(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[mapping]\nsite_map = { "London" = "L", "Paris" = "P" }\n'
        'extra_fields = { "work.custom.a" = "{application_id}" }\n',
    )
    s = load_settings(
        path,
        overrides={"mapping": {"extra_fields": {"work.custom.b": "x"}}},
        env={"POLLER_MAPPING__SITE_MAP": '{"Rome": "R"}'},
    )
    assert s.mapping.site_map == {"Rome": "R"}
    assert s.mapping.extra_fields == {"work.custom.b": "x"}
    assert type(s.mapping.site_map) is dict and type(s.mapping.extra_fields) is dict


def test_a_table_from_the_file_alone_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, '[mapping.site_map]\n"Berlin, Germany" = "Berlin"\n')
    s = load_settings(path, env={"POLLER_MAPPING__DEFAULT_SITE": "Berlin"})
    assert s.mapping.site_map == {"Berlin, Germany": "Berlin"}
    assert s.mapping.default_site == "Berlin"


def test_load_settings_reads_only_the_env_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLLER_WORKER__CONCURRENCY", "9")
    monkeypatch.setenv("PINPOINT_API_KEY", "from-os-environ")
    s = load_settings(env={})
    assert s.worker.concurrency == 4
    assert s.pinpoint_api_key is None
    assert load_settings().worker.concurrency == 9  # env=None: os.environ


def test_settings_made_directly_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pinpoint_api_key", "PINPOINT_API_KEY", "config_path"):
        monkeypatch.setenv(name, "from-os-environ")
    s = Settings()
    assert s.pinpoint_api_key is None and s.config_path is None
    assert Settings(config_path="x.toml").config_path == "x.toml"


@pytest.mark.parametrize("name", ["config_path", "pinpoint_api_key"])
def test_a_settings_field_that_is_not_a_section_is_an_unknown_section(name: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(overrides={name: {"x": 1}}, env={})
    assert exc.value.problems == [f"{name}: unknown section (from command line)"]


def test_config_path_in_the_file_is_refused_in_order(tmp_path: Path) -> None:
    text = "[colour]\nx = 1\n[worker]\nconcurrency = 0\n"
    path = write(tmp_path, 'config_path = "elsewhere.toml"\n' + text)
    with pytest.raises(ConfigError) as exc:
        load_settings(path, env={"POLLER_AARDVARK__X": "1"})
    # Field errors first, then the unknown sections in the order the layers named them
    # (the file before env), config_path among them.
    assert exc.value.problems == [
        f"worker.concurrency: Input should be greater than or equal to 1 (from {path})",
        f"config_path: unknown section (from {path})",
        f"colour: unknown section (from {path})",
        "aardvark: unknown section (from env POLLER_AARDVARK__X)",
    ]
