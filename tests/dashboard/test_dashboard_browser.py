"""The dashboard in a real headless Chromium, over a real sweep, served by a real server.

Screenshots of every page land in ``out/dashboard-screenshots/`` (the environment
variable ``OMEGA_DASHBOARD_SCREENSHOTS`` changes the folder).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from dash_support import (
    FAILED_TRIAL,
    HOSTILE,
    STUDY,
    Dashboard,
    chromium_path,
    cli_env,
    dashboard,
    run_cli,
    screenshot_dir,
    write_study,
)

pytestmark = pytest.mark.e2e

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture fails with the install hint
    expect = None

TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Returns a headless Chromium (Debian's package, driven by Playwright)."""
    # A missing browser is a failure, never a skip: these tests are the proof that the
    # pages work. `make install` / `.ci/run` install both.
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed (pip install playwright)")
    executable = chromium_path()
    if executable is None:
        pytest.fail("no chromium on PATH (apt-get install -y chromium) and OMEGA_CHROMIUM unset")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Visit:
    """An open page with the console errors, uncaught exceptions and dialogs it produced."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        """Saves a full-page screenshot named ``name``.png and returns its path."""
        path = screenshot_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    """Returns a function that opens a URL in a fresh page and records what went wrong."""
    contexts = []

    def open_page(url: str) -> Visit:
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        seen = Visit(page)
        page.on(
            "console",
            lambda message: seen.errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: seen.errors.append(f"uncaught: {error}"))

        def on_dialog(dialog: Any) -> None:
            seen.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url)
        return seen

    yield open_page
    for context in contexts:
        context.close()


def show_order(url: str, name: str = STUDY) -> list[int]:
    result = run_cli("show", name, "--top", "0", "--format", "json", "--storage", url)
    assert result.returncode == 0, result.stderr
    return [row["number"] for row in json.loads(result.stdout)]


def study_url(server: Dashboard, name: str = STUDY) -> str:
    return f"{server.base}/study/{quote(name, safe='')}"


def test_every_page_renders_without_console_errors(
    server: Dashboard, swept: tuple[str, Path], visit: Any
) -> None:
    url, _ = swept
    best = show_order(url)[0]

    studies = visit(server.base + "/")
    studies.page.wait_for_selector(f'#studies tr[data-study="{STUDY}"]')
    row = studies.page.locator(f'#studies tr[data-study="{STUDY}"]')
    assert "20/20" in row.inner_text()
    studies.shot("studies")

    study = visit(study_url(server))
    page = study.page
    page.wait_for_selector("#leaderboard tbody tr[data-number]")
    for chart in ("#history-chart", "#importance-chart", "#heatmap-chart"):
        page.wait_for_selector(f'{chart}[data-drawn="true"] svg')
    # Playwright's expect polls without eval(), which the page's CSP forbids.
    expect(page.locator("#param-charts [data-drawn]")).to_have_count(4)
    assert page.locator("#failed tbody tr").count() == 1
    assert "injected fault" in page.locator("#failed tbody").inner_text()
    study.shot("study")

    trial = visit(f"{study_url(server)}/trial/{best}")
    page = trial.page
    page.wait_for_selector('#equity-chart[data-drawn="true"] path.series-line')
    page.wait_for_selector('#drawdown-chart[data-drawn="true"] path.series-area')
    assert page.locator("#trades tbody tr").count() > 0
    command = page.locator("#replay-command").inner_text()
    assert command == f"python -m optimizer replay {STUDY} --trial {best} --storage {url}"
    assert page.locator("#metrics tbody tr").count() >= 15
    assert "match the stored ones" in page.locator("#replay-note").inner_text()
    trial.shot("trial")

    failed = visit(f"{study_url(server)}/trial/{FAILED_TRIAL}")
    page = failed.page
    page.wait_for_selector("#error-card:not([hidden])")
    assert page.locator("#error-category").inner_text() == "exception"
    assert "injected fault in trial 5" in page.locator("#error-message").inner_text()
    failed.shot("trial-failed")

    for seen in (studies, study, trial, failed):
        assert seen.errors == [], seen.page.url
        assert seen.dialogs == []


def test_leaderboard_order_is_show_order(
    server: Dashboard, swept: tuple[str, Path], visit: Any
) -> None:
    url, _ = swept
    expected = show_order(url)
    assert len(expected) == 19  # 20 trials, one failed
    page = visit(study_url(server)).page
    page.wait_for_selector("#leaderboard tbody tr[data-number]")
    shown = [
        int(n)
        for n in page.locator("#leaderboard tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.number)"
        )
    ]
    assert shown == expected

    # Sorting by a column and back keeps every row; the first click sorts descending.
    page.locator('button[data-sort="profit_net"]').click()
    page.wait_for_selector('button.sort.active[data-sort="profit_net"]')
    profits = page.locator("#leaderboard tbody tr td:nth-child(4)").all_inner_texts()
    values = [float(v) for v in profits]
    assert values == sorted(values, reverse=True)


def test_click_opens_a_trial_with_its_equity_chart(server: Dashboard, visit: Any) -> None:
    seen = visit(study_url(server))
    page = seen.page
    link = page.locator("#leaderboard tbody tr:nth-child(2) a.trial-link")
    number = link.inner_text()
    link.click()
    page.wait_for_url(f"**/trial/{number}")
    page.wait_for_selector('#equity-chart[data-drawn="true"] path.series-line')
    assert page.locator("#trial-title").inner_text().startswith(f"Trial {number}")
    assert seen.errors == []


def test_hostile_study_name_is_shown_as_text(server: Dashboard, visit: Any) -> None:
    seen = visit(server.base + "/")
    page = seen.page
    page.wait_for_selector("#studies tbody tr[data-study]")
    link = page.locator("#studies a.study-link", has_text="onerror")
    assert link.inner_text() == HOSTILE
    assert page.locator("img").count() == 0
    link.click()
    page.wait_for_selector("#summary .item")
    assert page.locator("#study-title").inner_text() == HOSTILE
    assert page.title() == f"{HOSTILE} · Omega V2"
    page.wait_for_selector("#failed tbody tr")
    assert "<script>alert(2)</script>" in page.locator("#failed tbody").inner_text()
    seen.shot("hostile-study")

    trial = visit(f"{study_url(server, HOSTILE)}/trial/0")
    trial.page.wait_for_selector("#error-card:not([hidden])")
    assert trial.page.locator("#error-message").inner_text().endswith("<script>alert(2)</script>")
    assert "<svg onload=alert(3)>" in trial.page.locator("#params").inner_text()
    trial.page.wait_for_timeout(300)  # give an injected handler every chance to run
    for visited in (seen, trial):
        assert visited.dialogs == []
        assert visited.errors == []
        hooks = "[onerror], [onload], script:not([src])"
        assert visited.page.locator(hooks).count() == 0


def test_a_best_score_no_feasible_trial_has_is_marked(
    data_dir: Path, tmp_path: Path, visit: Any
) -> None:
    study = write_study(
        tmp_path, data_dir, name="none-feasible", n_trials=4, constraints={"min_trades": 10**6}
    )
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert run_cli("sweep", str(study), "--storage", url).returncode == 0
    with dashboard(url, tmp_path) as server:
        studies = visit(server.base + "/")
        cell = studies.page.locator('#studies tr[data-study="none-feasible"] td.num a')
        cell.wait_for()
        assert cell.inner_text().endswith("*")
        assert "infeasible" in (cell.get_attribute("title") or "")
        page = visit(study_url(server, "none-feasible")).page
        page.wait_for_selector("#summary .item")
        assert "infeasible: no trial meets the constraints" in page.locator("#summary").inner_text()
        assert studies.errors == []


def test_pages_follow_a_running_sweep(data_dir: Path, tmp_path: Path, visit: Any) -> None:
    # The dashboard opens an empty storage; the sweep starts afterwards. The studies page
    # shows the new study, the study page follows it to the end, neither reloads.
    study = write_study(tmp_path, data_dir, name="live-study", n_trials=24)
    db = tmp_path / "live.db"
    db.touch()
    url = f"sqlite:///{db}"
    log = tmp_path / "sweep.log"
    with dashboard(url, tmp_path) as server:
        studies = visit(server.base + "/")
        studies.page.wait_for_selector("#studies-empty:not([hidden])")
        with (
            log.open("w") as err,
            subprocess.Popen(
                [sys.executable, "-m", "optimizer", "sweep", str(study), "--storage", url],
                cwd=tmp_path,
                env=cli_env(OMEGA_OPTIMIZER_FAULTS="*:sleep=0.3"),
                stdout=subprocess.DEVNULL,
                stderr=err,
            ) as sweep,
        ):
            try:
                _follow(studies, server)
            except BaseException:
                sweep.kill()
                raise
            assert sweep.wait(timeout=60) == 0, log.read_text()


def _follow(studies: Visit, server: Dashboard) -> None:
    page = studies.page
    page.wait_for_selector('#studies tr[data-study="live-study"] .badge.run', timeout=30_000)
    page.locator('#studies tr[data-study="live-study"] a.study-link').click()
    page.wait_for_url("**/study/live-study")
    page.wait_for_selector("#summary .badge.run")
    page.evaluate("window.__sameDocument = true")
    rows = "#leaderboard tbody tr[data-number]"
    assert page.locator(rows).count() < 24
    page.wait_for_selector("#summary .badge.good", timeout=60_000)  # "finished"
    expect(page.locator(rows)).to_have_count(24, timeout=15_000)
    expect(page.locator("#history-chart circle.point")).to_have_count(24)
    assert page.evaluate("window.__sameDocument") is True  # updated without a reload
    assert studies.errors == []
    studies.shot("study-live")
