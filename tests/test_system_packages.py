"""The test command's own setup: system packages installed when it can, or the exact command."""

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bin" / "system-packages"


def run(*packages: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *packages], capture_output=True, text=True, env=env, check=False)


def test_installed_packages_need_nothing():
    assert run().returncode == 0  # Pango and the font, which the PDF tests already need


def test_without_root_it_stops_at_once_with_the_exact_command(tmp_path):
    fake_id = tmp_path / "id"
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    answer = run("greenlight-no-such-package", env=env)
    assert answer.returncode == 1
    assert "sudo apt-get install -y --no-install-recommends greenlight-no-such-package" in answer.stderr
