"""The explorer notebook runs headless (nbclient) and shows the page and its data."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[3] / "docs" / "notebooks" / "explorer.ipynb"


def test_explorer_notebook_executes_and_renders_the_page(tmp_path, monkeypatch):
    monkeypatch.setenv("TICKDECK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parents[2]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "'AAPL'" in code[0].outputs[0]["data"]["text/plain"]
    page_out = code[1].outputs
    text = "".join(o.get("text", "") for o in page_out if o.output_type == "stream")
    assert "AAPL · 2024-07-02 · regular session · 20,000 ticks" in text
    mimes = {m for o in page_out if o.output_type == "display_data" or o.output_type == "execute_result"
             for m in o.get("data", {})}
    assert any("holoviews" in m or m == "text/html" for m in mimes), mimes
    last = "".join(o.get("text", "") for o in code[2].outputs if o.output_type == "stream")
    assert "all session" in last and "AAPL_2024-07-02_all_ticks.csv" in last


def _run_without_data_dir(tmp_path, monkeypatch, cells=None):
    """Execute the notebook with TICKDECK_DATA_DIR unset and temporary files under ``tmp_path/tmp``."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.delenv("TICKDECK_DATA_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("PYTHONPATH", str(NOTEBOOK.parents[2]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    if cells is not None:
        nb.cells = nb.cells[:cells]
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb, scratch


def test_notebook_without_a_data_dir_leaves_no_temporary_directory(tmp_path, monkeypatch):
    nb, scratch = _run_without_data_dir(tmp_path, monkeypatch)
    last = nb.cells[-1]
    assert last.cell_type == "code" and "close_notebook()" in last.source
    shown = last.outputs[0]["data"]["text/plain"]
    assert shown.startswith("'removed ") and f"{scratch}/tickdeck-nb-" in shown, shown
    assert list(scratch.glob("tickdeck-nb-*")) == []


def test_a_kernel_shut_down_before_the_last_cell_still_removes_its_temporary_directory(tmp_path, monkeypatch):
    nb, scratch = _run_without_data_dir(tmp_path, monkeypatch, cells=3)
    assert "'AAPL'" in nb.cells[1].outputs[0]["data"]["text/plain"]
    assert list(scratch.glob("tickdeck-nb-*")) == []
