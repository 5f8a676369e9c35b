"""Makes ``docs/dashboard.png``: the study page of the README's sweep, in headless Chromium.

    python -m optimizer sweep studies/eurusd_mrz_dev.yaml --storage sqlite:////tmp/doc.db
    python tests/dashboard/doc_screenshot.py sqlite:////tmp/doc.db eurusd-mrz-dev docs/dashboard.png

Not a test (pytest collects only ``test_*.py``); it needs Playwright and Debian's chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dash_support import REPO, chromium_path, dashboard
from playwright.sync_api import expect, sync_playwright


def main(url: str, study: str, out: Path) -> None:
    """Serves ``url``, opens ``study``'s page with 25 leaderboard rows, saves ``out``."""
    executable = chromium_path()
    if executable is None:
        raise SystemExit("no chromium on PATH (apt-get install -y chromium)")
    with dashboard(url, REPO) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(f"{server.base}/study/{study}")
        page.wait_for_selector("#leaderboard tbody tr[data-number]")
        page.select_option("#lb-size", "25")
        expect(page.locator("#leaderboard tbody tr[data-number]")).to_have_count(25)
        for chart in ("#history-chart", "#importance-chart", "#heatmap-chart"):
            page.wait_for_selector(f'{chart}[data-drawn="true"] svg')
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    _shrink(out)


def _shrink(path: Path) -> None:
    """Stores the PNG with a 256-colour palette when Pillow is there (a third of the size)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(
            colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    palette.save(path, optimize=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
