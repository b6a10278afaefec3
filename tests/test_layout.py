"""The layout keeps its shape: imports point one way, and the wheel ships every module.

    server → sync → cases        server → media → cases        server → simulator (the CLI)
    sync → media (which referenced photos are held)              simulator → cases.clock only

`cases/` is the bottom (the case domain and its tables); nothing below imports upward, and the
simulator reaches the server only over HTTP and the `kancha` command line.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "sync", "cases", "media", "simulator", "migrations")
NOT_SOURCE = (".git", ".venv", "build", "kancha-data", "*.egg-info", "__pycache__", ".*_cache")

# What each package may import of the others (its own modules are always allowed).
MAY_IMPORT = {
    "server": {"sync", "cases", "media", "simulator", "migrations"},
    "sync": {"cases", "media"},
    "media": {"cases"},
    "cases": set(),
    "simulator": {"cases.clock"},
    "migrations": {"cases", "sync", "media", "server.settings"},  # plain `alembic upgrade`
}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name.split(".")[0] in PACKAGES}


def _allowed(package: str, module: str) -> bool:
    top = module.split(".")[0]
    if top == package:
        return True
    return any(module == rule or module.startswith(rule + ".") for rule in MAY_IMPORT[package])


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package):
    wrong = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _modules(package)
        for module in sorted(_imported(path))
        if not _allowed(package, module)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_rule_catches_an_upward_import(tmp_path):
    # The check itself must be able to fail: `cases` importing `sync` is refused.
    probe = tmp_path / "probe.py"
    probe.write_text("from sync.push import ingest_push\nimport media.store\nimport json\n")
    assert _imported(probe) == {"sync.push", "media.store"}
    assert not _allowed("cases", "sync.push") and not _allowed("media", "sync.models")
    assert _allowed("sync", "cases.models") and not _allowed("simulator", "server.app")


def test_the_wheel_ships_every_module(tmp_path):
    """Build the wheel as a user's pip would and import every module from it alone."""
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = tmp_path.glob("kancha-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
        shipped = {name for name in archive.namelist() if name.endswith(".py")}
    in_tree = {str(path.relative_to(ROOT)) for package in PACKAGES for path in _modules(package)}
    assert in_tree - shipped == set(), "modules missing from the wheel"
    modules = sorted(
        name[:-3].replace("/", ".").removesuffix(".__init__")
        for name in shipped
        if not name.startswith("migrations/")  # alembic loads these itself, in its context
    )
    # Import from the unpacked wheel only: not the checkout, not the editable install.
    script = (
        "import importlib, sys\n"
        f"sys.path[:0] = [{str(site)!r}]\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(site)!r}), (name, module.__file__)\n"
        "print(len(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
