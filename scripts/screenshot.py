"""Screenshots in headless Debian Chromium.

    python scripts/screenshot.py URL OUT.png [WIDTH]        one page
    python scripts/screenshot.py --all BASE_URL [OUT_DIR]  every page at 1920, 1366 and 375 px
                                                            (default OUT_DIR: test-output/screenshots)

``--all`` visits every route of the app (and the explorer with a symbol) on a running ``tickdeck serve``
and writes ``<page>-<width>.png``; each shot is taken once the page's layout is in place and the page
template's accessibility pass has run (no fixed wait).
"""

import shutil
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTHS = (1920, 1366, 375)
PAGE_READY = ".bk-panel-models-layout-Column, .bk-Column"
A11Y_PASSED = "() => Number(document.documentElement.getAttribute('data-td-a11y') || 0) >= 2"


# the page region scrolls inside the window on wide screens: let it grow so a full-page shot holds all of it
CHART_DRAWN = """() => { let h = 0; const walk = (r) => { for (const el of r.querySelectorAll('*')) {
  if (el.tagName === 'CANVAS') h = Math.max(h, el.getBoundingClientRect().height);
  if (el.shadowRoot) walk(el.shadowRoot); } }; walk(document); return h > 200; }"""
WHOLE_PAGE = "#content { height: auto !important; } #main { height: auto !important; overflow: visible !important; }"


def _settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.locator(PAGE_READY).first.wait_for()
    page.wait_for_function(A11Y_PASSED)
    page.add_style_tag(content=WHOLE_PAGE)


def one(url: str, out: str, width: int = 1400) -> None:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = b.new_page(viewport={"width": width, "height": 900})
        page.goto(url)
        _settle(page)
        page.screenshot(path=out, full_page=True)
        b.close()


def every_page(base: str, out_dir: Path) -> list[Path]:
    from tickdeck.app.routes import ROUTES

    base = base if base.endswith("/") else base + "/"
    out_dir.mkdir(parents=True, exist_ok=True)
    slugs = [(r.slug or "home", r.slug) for r in ROUTES] + [("explorer-chart", "explorer?symbol=AAPL")]
    written = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        for width in WIDTHS:
            ctx = b.new_context(viewport={"width": width, "height": 900})
            ctx.set_default_timeout(60_000)
            page = ctx.new_page()
            for name, slug in slugs:
                page.goto(base + slug)
                _settle(page)
                if "symbol=" in slug:
                    page.wait_for_function(CHART_DRAWN)  # the chart is computed after the page shows
                path = out_dir / f"{name}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
                print(path, flush=True)
            ctx.close()
        b.close()
    return written


def main() -> None:
    if sys.argv[1] == "--all":
        every_page(sys.argv[2], Path(sys.argv[3]) if len(sys.argv) > 3 else Path("test-output/screenshots"))
        return
    one(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1400)


if __name__ == "__main__":
    main()
