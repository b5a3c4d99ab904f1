"""What the Docker image installs (`pip wheel .`, not the editable install the tests run from): every module and
data file of the project's packages. The packages were once listed by hand, and the image left out crm.cases,
crm.documents, crm.imports, crm.client_requests and activities.signing: its API, worker and migrations could not
start."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("processes", "renderer", "crm", "workflows", "activities", "api", "cli")
MODULES = ("worker.py", "worker_health.py", "metrics.py", "tracing.py", "settings.py", "logs.py")


def _files(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for package in PACKAGES for path in (root / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"} | \
        {name for name in MODULES if (root / name).is_file()}


def test_the_built_package_holds_every_module_and_data_file(tmp_path: Path) -> None:
    """Built from the files git has, as the image's build context is: a checkout's own `*.egg-info` (from the
    editable install) lists every file and would hide a package left out"""
    source, built = tmp_path / "source", tmp_path / "lib"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / name, source / name)
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                    "--build-lib", str(built)], cwd=source, check=True, capture_output=True, timeout=120)
    assert _files(source) - _files(built) == set()
