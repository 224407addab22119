"""Settings are parsed and checked once, at start, and every bad variable is named at once."""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from chronoflow.config import _VARIABLES, Settings
from chronoflow.errors import ConfigError
from chronoflow.logs import mask_url_passwords

ROOT = Path(__file__).resolve().parents[2]

BAD = {
    "DEFAULT_TIMEZONE": "Mars/Base",
    "WAHA_BASE_URL": "localhost:3001",
    "JOB_ATTEMPTS": "0",
    "JOB_BACKOFF_MS": "-1000",
    "HTTP_REQUEST_TIMEOUT_MS": "0",
    "FUNCTION_RATE_LIMIT_PER_SECOND": "0",
    "FUNCTION_SANDBOX_UID": "0",
    "FUNCTION_SANDBOX_NETNS": "maybe",
    "ALLOWED_METHODS": "TRACE,CONNECT",
    "WORKER_HEARTBEAT_TTL_SECONDS": "0",
    "WORKER_CONCURRENCY": "0",
    "WORKER_FUNCTION_CONCURRENCY": "many",
    "SCHEDULER_LOCK_TTL_MS": "0",
    "MISFIRE_GRACE_SECONDS": "-5",
    "FUNCTION_HTTP_ALLOWLIST": "https://api.example.com",
    "FUNCTION_HTTP_PRIVATE_HOSTS": "10.0.0.0/8",
    "FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST": "+ ()",
    "FUNCTION_SANDBOX_REQUIRED_LAYERS": "rlimits,chroot",
    "DATABASE_URL": "mysql://db/x",
    "REDIS_URL": "localhost:6379",
    "PORT": "http",
    "LOG_LEVEL": "loud",
    "WAHA_API_KEY": "chave-ç",
}


def test_every_bad_variable_is_reported_at_once() -> None:
    """It names each bad variable with its value and what is expected, in one error."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(BAD)
    problems = caught.value.problems
    assert len(problems) == len(BAD)
    for variable, value in BAD.items():
        line = next(p for p in problems if p.startswith(f"{variable}="))
        assert repr(value) in line
        assert "expected" in line or "give host names" in line


def test_urls_are_refused_where_host_names_are_expected() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"FUNCTION_HTTP_ALLOWLIST": "https://api.example.com"})
    assert "give host names, not URLs" in str(caught.value)


@pytest.mark.parametrize("written", ["+5511", "55 11", "5511", "+55 (11)", " +55-11 "])
def test_recipient_prefixes_are_read_as_people_write_them(written: str) -> None:
    settings = Settings.from_env({"FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST": f"{written}, +55 21"})
    assert settings.function_message_recipient_allowlist == ("5511", "5521")


def test_good_values_are_typed() -> None:
    settings = Settings.from_env({
        "JOB_ATTEMPTS": "5", "FUNCTION_SANDBOX_NETNS": "off", "ALLOWED_METHODS": "get, post,GET",
        "FUNCTION_HTTP_ALLOWLIST": "API.example.com., *.example.org, 127.0.0.1",
        "DEFAULT_TIMEZONE": "America/Sao_Paulo", "FUNCTION_SANDBOX_REQUIRED_LAYERS": "Landlock,netns",
        "HOST": "0.0.0.0", "PORT": "8080",
    })
    assert settings.job_attempts == 5
    assert settings.function_sandbox_network_namespace is False
    assert settings.allowed_methods == ("GET", "POST")
    assert settings.function_http_allowlist == ("api.example.com", "*.example.org", "127.0.0.1")
    assert settings.function_sandbox_required_layers == ("landlock", "netns")
    assert settings.public_base_url == "http://127.0.0.1:8080"


def test_empty_values_mean_the_defaults() -> None:
    assert Settings.from_env({"JOB_ATTEMPTS": "", "PORT": "  "}) == Settings()


@pytest.mark.parametrize(("role", "missing"), [
    ("api", {"CHRONOFLOW_API_TOKENS", "REDIS_URL"}),
    ("worker", {"REDIS_URL"}),
    ("scheduler", {"REDIS_URL"}),
    ("reconcile", {"REDIS_URL"}),
    ("migrate", set()),
    ("dev", set()),
])
def test_roles_name_the_variables_they_need(role: str, missing: set[str]) -> None:
    if not missing:
        Settings.from_env({}, role=role)
        return
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({}, role=role)
    assert {p.split(" ", 1)[0] for p in caught.value.problems} == missing


def test_every_setting_has_a_variable_and_a_readme_row() -> None:
    """The parser table, the dataclass and the README's configuration table stay in step."""
    assert set(_VARIABLES) == {f.name for f in dataclasses.fields(Settings)}
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)`", section, re.MULTILINE))
    documented |= set(re.findall(r"^\| `[A-Z_]+` / `([A-Z_]+)`", section, re.MULTILINE))
    assert documented == {variable for variable, _ in _VARIABLES.values()}


def test_url_passwords_are_masked() -> None:
    text = "connect postgresql://cf:s3cr%40t@db:5432/cf and redis://:pw@r:6379/0 and http://a/b@c"
    assert mask_url_passwords(text) == (
        "connect postgresql://cf:***@db:5432/cf and redis://:***@r:6379/0 and http://a/b@c"
    )


def _chronoflow(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {v for v, _ in _VARIABLES.values()}}
    return subprocess.run([sys.executable, "-m", "chronoflow", *args], env=clean | env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("role", ["dev", "api", "scheduler", "worker", "migrate", "reconcile"])
def test_each_role_refuses_bad_configuration_before_starting(role: str, tmp_path: Path) -> None:
    """The real command exits 2 with every bad variable listed, and creates nothing."""
    home = tmp_path / "home"
    env = {"CHRONOFLOW_HOME": str(home), "REDIS_URL": "redis://127.0.0.1:1/0", "CHRONOFLOW_API_TOKENS": "t",
           "JOB_ATTEMPTS": "0", "DEFAULT_TIMEZONE": "Mars/Base", "FUNCTION_SANDBOX_NETNS": "maybe"}
    done = _chronoflow([role], env, tmp_path)
    assert done.returncode == 2, done.stderr
    for variable in ("JOB_ATTEMPTS='0'", "DEFAULT_TIMEZONE='Mars/Base'", "FUNCTION_SANDBOX_NETNS='maybe'"):
        assert variable in done.stderr
    assert not home.exists()


def test_api_without_tokens_refuses_to_start_and_prints_no_token(tmp_path: Path) -> None:
    done = _chronoflow(["api"], {"REDIS_URL": "redis://127.0.0.1:1/0"}, tmp_path)
    assert done.returncode == 2
    assert "CHRONOFLOW_API_TOKENS is not set" in done.stderr
    assert "token:" not in (done.stdout + done.stderr).lower()


def test_migrate_creates_the_sqlite_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    done = _chronoflow(["migrate"], {"CHRONOFLOW_HOME": str(tmp_path / "home")}, tmp_path)
    assert done.returncode == 0, done.stderr
    database = tmp_path / "home" / "chronoflow.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "home").iterdir() if not p.name.startswith("chronoflow.db-")) == [
        "chronoflow.db"]


def test_a_home_from_an_earlier_version_keeps_its_database_file(tmp_path: Path) -> None:
    """It keeps using the file earlier versions created (``chronoflow.store.engine``) when that is the
    only one, so an upgrade does not start on an empty database; a new home gets ``chronoflow.db``."""
    home = tmp_path / "home"
    home.mkdir()
    settings = Settings(home=home)
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{home.resolve() / 'chronoflow.db'}"
    (home / "chronoflow.store.engine").write_bytes(b"")
    assert settings.effective_database_url.endswith("/home/chronoflow.store.engine")
    (home / "chronoflow.db").write_bytes(b"")
    assert settings.effective_database_url.endswith("/home/chronoflow.db")
