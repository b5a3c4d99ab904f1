"""The production compose file, checked without a Docker engine: it is valid Compose, every service has a
real health check, nothing but the TLS proxy is published beyond 127.0.0.1, no secret is in plain
environment, images are versioned or pinned by digest, and migrations run in the migrate job only."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
DIGEST = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|API_KEY", re.IGNORECASE)


def resolved(value: object) -> str:
    """A value as Compose sees it with nothing set in the environment: `${NAME:-default}` is the default."""
    text = re.sub(r"(?<!\$)\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", str(value))
    return text.replace("$$", "$")


def one_shot(service: dict[str, Any]) -> bool:
    return not str(service.get("restart", "no")).startswith(("always", "unless-stopped"))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment is written as a mapping"
    return {k: resolved(v) for k, v in env.items()}


def test_compose_file_matches_the_compose_specification() -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                             "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_starts_the_api_and_worker_the_way_the_code_expects() -> None:
    assert SERVICES["api"]["command"][:5] == ["uvicorn", "--factory", "api.app:create_app",
                                              "--http", "api.http_protocol:HttpProtocol"]
    assert SERVICES["worker"]["command"] == ["python", "-m", "worker"]
    assert not any("auto-setup" in str(s.get("image", "")) for s in SERVICES.values())


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_that_stays_up_has_a_real_health_check(name: str) -> None:
    service = SERVICES[name]
    if one_shot(service):
        assert "healthcheck" not in service and "ports" not in service
        return
    test = service.get("healthcheck", {}).get("test")
    assert test, f"{name} has no health check"
    assert not re.search(r"\bnc\b", " ".join(test)), f"{name}: an open port is not health"


def test_what_waits_waits_for_health_or_for_a_job_that_succeeded() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            wanted = "service_completed_successfully" if one_shot(SERVICES[dependency]) else "service_healthy"
            assert condition["condition"] == wanted, f"{name} -> {dependency}"


def test_nothing_is_published_beyond_localhost_but_the_tls_proxy() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            if name == "proxy":
                assert resolved(port).split(":")[0] in ("80", "443"), port
            else:
                assert resolved(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
    proxy = SERVICES["proxy"]
    assert proxy["profiles"] == ["proxy"]
    caddyfile = COMPOSE["configs"]["caddyfile"]["content"]
    assert "reverse_proxy api:8000" in caddyfile and "respond /metrics 404" in caddyfile


def test_no_secret_is_in_plain_environment() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"\$\{\w*(PASSWORD|PWD|SECRET|TOKEN)\w*", text), "a secret interpolated from the environment"
    for name, service in SERVICES.items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert key.endswith("_FILE") and value.startswith("/run/secrets/"), f"{name}: {key}"
                assert value.removeprefix("/run/secrets/") in service.get("secrets", []), f"{name}: {key}"
            if value.startswith("postgresql+"):
                assert make_url(value).password is None, f"{name}: {key} has a password in it"
    declared = set(COMPOSE["secrets"])
    for name, service in SERVICES.items():
        assert set(service.get("secrets", [])) <= declared, name
    assert all(s["file"].startswith("./secrets/") for s in COMPOSE["secrets"].values())


def test_temporal_connects_as_its_own_login_not_the_superuser() -> None:
    assert environment(SERVICES["postgresql"])["POSTGRES_USER"] == "postgres"
    for name in ("temporal-admin-tools", "temporal"):
        assert environment(SERVICES[name])["POSTGRES_USER"] == "temporal"
    login = COMPOSE["configs"]["temporal-db-login"]["content"]
    assert "CREATE ROLE temporal LOGIN CREATEDB NOSUPERUSER" in login and ":'password'" in login


def test_images_are_versioned_or_pinned_by_digest() -> None:
    for name, service in SERVICES.items():
        image = resolved(service["image"])
        if "build" in service:
            assert image == f"stagecoach:{VERSION}", f"{name} runs {image}; pyproject.toml says {VERSION}"
        else:
            assert DIGEST.match(image), f"{name}: {image} is not pinned by digest"
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert bases and all(DIGEST.match(base) for base in bases), bases
    assert re.search(r"^USER\s+(?!root|0\b)\w+", dockerfile, re.MULTILINE), "the image runs as root"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_resource_limits_and_rotated_logs(name: str) -> None:
    service = SERVICES[name]
    limits = service["deploy"]["resources"]["limits"]
    assert limits.get("cpus") and limits.get("memory"), name
    assert service["logging"]["options"]["max-size"] and service["logging"]["options"]["max-file"], name


def test_migrations_run_in_the_migrate_job_only() -> None:
    for name, service in SERVICES.items():
        command = " ".join(map(str, service.get("command") or []))
        assert ("stagecoach admin migrate" in command) == (name == "migrate"), name
    bootstrap = " ".join(SERVICES["migrate"]["command"])
    assert "stagecoach admin create-key" in bootstrap and "/run/secrets/stagecoach_admin_api_key" in bootstrap


def test_the_temporal_ui_is_read_only_and_the_namespace_has_a_retention() -> None:
    assert environment(SERVICES["temporal-ui"])["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    namespace = SERVICES["temporal-create-namespace"]
    assert environment(namespace)["RETENTION"] == "720h"
    script = namespace["command"][0]
    assert 'namespace create -n "$$NAMESPACE" --retention "$$RETENTION"' in script
    assert 'namespace update -n "$$NAMESPACE" --retention "$$RETENTION"' in script
