"""The layers hold: core without UI libraries, ArcticDB only behind the store, library names only from
core.naming, and the import contracts and ruff run by CI and passing (docs/operations.md, Code layout and checks)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "app", "pages", "jobs")
UI_LIBRARIES = ("panel", "bokeh", "holoviews", "datashader", "fastapi")
STORE = ROOT / "core" / "store.py"
# Store verbs whose first argument is a library name.
LIBRARY_VERBS = {"write_series", "write_series_batch", "append_series", "read_series", "series_metadata", "list_series",
                 "delete_series", "has_series", "series_rows", "series_bytes", "series_metadata_batch",
                 "compact_symbol_list", "library", "list_snapshots", "snapshot_symbols", "series_rows_at",
                 "read_series_at"}


def _tool(name: str) -> str:
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `pip install -e '.[test]'` installs it")
    return found


def _sources():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(), filename=str(path))


def test_importing_every_core_module_loads_no_ui_library():
    """Issue 12 (STYLE.md Layers): a fresh interpreter imports every core module; panel, bokeh, holoviews,
    datashader, fastapi, app, pages and jobs are not loaded."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        "import tickdeck.core\n"
        "names = [m.name for m in pkgutil.walk_packages(tickdeck.core.__path__, 'tickdeck.core.')"
        " if not m.name.startswith('tickdeck.core.migrations')]\n"
        "for n in names: importlib.import_module(n)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {UI_LIBRARIES!r}"
        " or m.split('.')[:2] in (['tickdeck', 'app'], ['tickdeck', 'pages'], ['tickdeck', 'jobs']))\n"
        "print(json.dumps({'imported': len(names), 'loaded': bad}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["imported"] > 40
    assert result["loaded"] == [], f"core pulled in {result['loaded'][:10]}"


def test_arcticdb_is_called_only_from_the_store():
    """Issue 12: outside core/store.py no module imports arcticdb, opens a library (``.library(``) or reaches
    into the store's ``ticks`` library; they call store verbs."""
    found = []
    for path, tree in _sources():
        if path == STORE:
            continue
        rel = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [f"{rel}:{node.lineno} import {a.name}" for a in node.names
                          if a.name.split(".")[0] == "arcticdb"]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "arcticdb":
                found.append(f"{rel}:{node.lineno} from {node.module} import ...")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "library":
                found.append(f"{rel}:{node.lineno} .library(...)")
            elif (isinstance(node, ast.Attribute) and node.attr == "ticks" and isinstance(node.value, ast.Attribute)
                  and node.value.attr == "store"):
                found.append(f"{rel}:{node.lineno} store.ticks")
    assert found == []


def test_library_names_are_spelled_only_in_naming():
    """Issue 12: a store verb's library argument is never a string literal outside core/naming.py; no module
    but core/naming.py assigns a ``*_LIBRARY`` constant a string."""
    found = []
    for path, tree in _sources():
        rel = path.relative_to(ROOT)
        if rel == Path("core/naming.py"):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LIBRARY_VERBS
                    and node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr))):
                found.append(f"{rel}:{node.lineno} {node.func.attr}({ast.unparse(node.args[0])}, ...)")
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)):
                for t in node.targets:
                    if isinstance(t, ast.Name) and t.id.endswith("_LIBRARY"):
                        found.append(f"{rel}:{node.lineno} {t.id} = {node.value.value!r}")
    assert found == []


def _cycles(graph) -> list[list[str]]:
    """Strongly connected sets of two or more modules (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycles_between_modules():
    """Issue 12: no module imports, directly or through others, a module that imports it back (function-level
    imports count too); the cycles files↔dbn↔nautilus, rules↔service↔quality, kinds↔queue, charts↔tick_plot
    and app.auth↔app.server are gone and no new one appears."""
    import grimp

    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = _cycles(graph)
    detail = []
    for comp in cycles:
        members = set(comp)
        for a in comp:
            for b in sorted(graph.find_modules_directly_imported_by(a) & members):
                lines = [d["line_number"] for d in graph.get_import_details(importer=a, imported=b)]
                detail.append(f"{a} -> {b} (line {', '.join(map(str, lines))})")
    assert cycles == [], "\n".join(detail)


def test_ci_runs_lint_imports_and_ruff_before_pytest():
    """Issue 12: `.ci/run` runs `make test`, whose script runs lint-imports and ruff check before pytest and
    fails the run when a check fails."""
    assert re.search(r"^make test\s*$", (ROOT / ".ci/run").read_text(), re.M)
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\n\t@?bash scripts/run-tests\.sh", make, re.M)
    script = (ROOT / "scripts/run-tests.sh").read_text().splitlines()
    at = {key: next(i for i, line in enumerate(script) if line.startswith(cmd)) for key, cmd in (
        ("lint", ".venv/bin/lint-imports"), ("ruff", ".venv/bin/ruff check ."),
        ("pytest", ".venv/bin/python -m pytest"))}
    assert at["lint"] < at["pytest"] and at["ruff"] < at["pytest"]
    assert "failed_checks" in script[at["lint"]] and "failed_checks" in script[at["ruff"]]


def test_import_contracts_are_kept():
    """Issue 12: `lint-imports` passes: core standalone, pages without app/jobs, jobs without pages/app, the
    layers app > pages | jobs > core, arcticdb only in core.store, and the layers that keep the broken cycles
    broken."""
    out = subprocess.run([_tool("lint-imports"), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    for contract in ("core-standalone", "pages-injected", "jobs-headless", "layers", "arcticdb-in-store",
                     "sources-readers", "validation-stack", "jobs-kinds-above-queue", "charts-below-tick-plot",
                     "app-auth-below-server"):
        assert f'id = "{contract}"' in (ROOT / "pyproject.toml").read_text()


def test_ruff_check_passes():
    """Issue 12: `ruff check .` (pycodestyle, pyflakes, bugbear at 120 columns) finds nothing."""
    out = subprocess.run([_tool("ruff"), "check", "--no-cache", "--output-format", "concise", "."], cwd=ROOT,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
