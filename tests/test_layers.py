"""The layers of DESIGN.md: governance -> telemetry -> lca, and pure modules stay pure."""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"lca": {"telemetry", "governance"}, "telemetry": {"governance"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_apps_import_only_downward(app):
    offenders = [
        f"{path.relative_to(ROOT)} imports {sorted(imported_packages(path) & FORBIDDEN[app])}"
        for path in (ROOT / app).rglob("*.py")
        if imported_packages(path) & FORBIDDEN[app]
    ]
    assert offenders == []


@pytest.mark.parametrize("module", ["lca.footprint", "telemetry.agent"])
def test_pure_modules_do_not_import_django(module):
    if importlib.util.find_spec(module.split(".")[0]) is None or not (
        (ROOT / module.replace(".", "/")).with_suffix(".py").exists() or (ROOT / module.replace(".", "/")).is_dir()
    ):
        pytest.skip(f"{module} does not exist yet")
    code = f"import sys, {module}; assert 'django' not in sys.modules, sorted(m for m in sys.modules if 'django' in m)"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def _modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_only_the_api_packages_use_the_api_layer():
    """Services, web views, tasks and commands take plain inputs; DRF serializers live under api/."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for app in ("governance", "lca", "telemetry")
        for path in (ROOT / app).rglob("*.py")
        if "api" not in path.relative_to(ROOT).parts and "migrations" not in path.parts
        for module in _modules(path)
        if module.startswith(("rest_framework", "drf_spectacular", "config.api")) or ".api" in module
    ]
    assert offenders == []
