"""The production compose file is valid Compose (checked without a Docker engine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_matches_the_compose_specification() -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
                             "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_starts_the_api_and_worker_the_way_the_code_expects() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["api"]["command"][:3] == ["uvicorn", "--factory", "api.app:create_app"]
    assert services["worker"]["command"] == ["python", "-m", "worker"]
    assert not any("auto-setup" in str(s.get("image", "")) for s in services.values())
