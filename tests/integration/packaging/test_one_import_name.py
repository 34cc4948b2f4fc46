"""Issue 18: tickdeck installs and imports under the one name ``tickdeck``.

A wheel is built from a copy of this checkout and installed (not editable, no dependencies) into a
fresh virtual environment whose dependencies come from the test environment's site-packages. A folder
holding its own ``app.py``, ``core/`` and ``pages.py`` must not shadow tickdeck's layers.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LAYERS = ("app", "core", "jobs", "pages")
SHADOW = "raise SystemExit('the folder\\'s own {name} was imported')\n"


def _copy_checkout(dest: Path) -> Path:
    src = dest / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name) if src.exists() else (src.mkdir(), shutil.copy2(ROOT / name, src / name))
    for name in (*LAYERS, "tickdeck"):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=ignore)
    return src


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the built wheel installed; returns (python, site-packages, bin)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = _copy_checkout(tmp)
    out = tmp / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), str(src)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = next(out.glob("tickdeck-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)  # the test environment's pip installs into it (--python): no ensurepip
    py = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
                           "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    before = {p.name for p in site.iterdir()}
    # The dependencies (numpy, panel, …) from the test environment, added after the fresh venv's own site.
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py, site, env_dir / "bin", before, wheel


def test_only_tickdeck_lands_in_site_packages(installed):
    _py, _site, _bin, names, wheel = installed
    ours = {n for n in names if not n.startswith(("pip", "_distutils_hack", "distutils-precedence", "setuptools",
                                                   "pkg_resources", "__pycache__"))}
    assert ours == {"tickdeck", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, sorted(ours)
    assert not set(LAYERS) & names


def test_a_folder_with_its_own_app_core_and_pages_does_not_shadow_tickdeck(installed, tmp_path):
    py, site, bin_dir, _names, _wheel = installed
    (tmp_path / "app.py").write_text(SHADOW.format(name="app.py"))
    (tmp_path / "pages.py").write_text(SHADOW.format(name="pages.py"))
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text(SHADOW.format(name="core/"))
    code = ("from tickdeck.pages.explorer import ExplorerPage; from tickdeck.core.store import Store\n"
            "import sys, tickdeck.core, tickdeck.pages, tickdeck.app.cli\n"
            "assert not {'app', 'core', 'pages', 'jobs'} & set(sys.modules), 'a top-level layer was imported'\n"
            "print(tickdeck.core.__file__)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # the venv's own paths
    r = subprocess.run([str(py), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert Path(r.stdout.strip().splitlines()[-1]).resolve().is_relative_to(site.resolve())
    helped = subprocess.run([str(bin_dir / "tickdeck"), "--help"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert "collect" in helped.stdout and "serve" in helped.stdout


def test_the_wheel_carries_the_package_data(installed):
    _py, site, *_ = installed
    assert list((site / "tickdeck" / "core" / "migrations" / "versions").glob("0001_*.py"))
    assert (site / "tickdeck" / "app" / "templates").is_dir()
    assert not (site / "tickdeck" / "core").is_symlink()
