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
