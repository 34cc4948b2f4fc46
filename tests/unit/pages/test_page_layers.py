"""Pages import neither ``app`` nor ``jobs``: what they need (user, jobs facade) is injected.

Checked twice: every ``import`` statement in ``pages/`` (including imports inside functions,
which an import-time check alone would miss), and a fresh interpreter importing every page
module (which catches an indirect import through a helper).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("app", "jobs")


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" and node.args \
                and isinstance(node.args[0], ast.Constant):
            out.append((node.lineno, str(node.args[0].value)))
    return out


def test_no_page_module_has_an_import_of_app_or_jobs():
    """Issue 12: pages/ never imports app/ or jobs/ (not even lazily inside a function)."""
    bad = [f"{p.relative_to(ROOT)}:{line}: {name}" for p in sorted((ROOT / "pages").rglob("*.py"))
           for line, name in _imports(p) if name.split(".")[0] in FORBIDDEN]
    assert bad == []


def test_importing_every_page_loads_neither_app_nor_jobs():
    """Issue 12: nothing a page imports brings app/ or jobs/ in indirectly."""
    modules = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "pages").rglob("*.py")
                     if p.name != "__init__.py")
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
