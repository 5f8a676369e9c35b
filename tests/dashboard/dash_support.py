"""Helpers of the dashboard tests: paths, the CLI, the dashboard process, the hostile study."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

# The shared helpers of the optimizer tests (paths, sliced data, the CLI runner).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "optimizer"))

from opt_support import (
    REPO,
    SEARCH_SPACE,
    cli_env,
    run_cli,
    write_base_config,
    write_sliced_data,
)

from optimizer.storage import NewTrial, StudyStore
from optimizer.worker import failed_outcome

__all__ = [
    "FAILED_TRIAL",
    "HOSTILE",
    "REPO",
    "STUDY",
    "Dashboard",
    "add_hostile_study",
    "chromium_path",
    "cli_env",
    "dashboard",
    "run_cli",
    "write_sliced_data",
    "write_study",
]

#: The study that the browser tests look at.
STUDY = "dash-study"

#: A study name that is also HTML: the pages must show it as text.
HOSTILE = "<img src=x onerror=alert(1)>"

#: Trial 5 of the sweep fails on purpose (the worker's test-only fault injection).
FAILED_TRIAL = 5


def write_study(
    folder: Path,
    data: Path,
    *,
    name: str = STUDY,
    n_trials: int = 20,
    constraints: dict[str, float] | None = None,
) -> Path:
    """Writes a base config on ``data`` and a dev study file (``constraints``: min_trades 3
    unless given); returns the study file."""
    base = write_base_config(folder, data)
    study = {
        "name": name,
        "run_mode": "dev",
        "seed": 5,
        "base_config": str(base),
        "sampler": {"name": "tpe", "n_startup_trials": 8},
        "n_trials": n_trials,
        "workers": 1,
        "batch_size": 4,
        "objective": "score",
        "direction": "maximize",
        "constraints": {"min_trades": 3} if constraints is None else constraints,
        "trial_timeout_s": 60,
        "search_space": SEARCH_SPACE,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return path


def add_hostile_study(url: str) -> None:
    """Adds a study whose name, parameter and error message are HTML (through the store's
    API: the study-file validation would refuse such a name)."""
    path = "strategy.params.<b>entry</b>"
    store = StudyStore(url)
    try:
        study = store.create_study(
            name=HOSTILE,
            run_mode="dev",
            seed=1,
            n_trials=2,
            batch_size=2,
            objective="score",
            direction="maximize",
            constraints={},
            sampler={"name": "<i>random</i>"},
            search_space=[
                {"path": path, "type": "categorical", "choices": ["<svg onload=alert(3)>"]}
            ],
            fingerprint={},
            study_file="<script>alert(4)</script>.yaml",
            study_text="",
            base_config={},
            engine_version=None,
        )
        store.begin_batch(
            study,
            [
                NewTrial(
                    number=0,
                    batch=0,
                    params={path: "<svg onload=alert(3)>"},
                    sampler_attrs={},
                    seed=1,
                    config={},
                )
            ],
            [],
        )
        store.finish_batches(
            study, [failed_outcome(0, "exception", "RuntimeError: <script>alert(2)</script>")]
        )
    finally:
        store.close()


class Dashboard:
    """A dashboard server in a subprocess, on a free loopback port."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "optimizer.dashboard", "--storage", url, "--port", "0"],
            cwd=cwd,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.base = self._read_address()
        self.stderr: list[str] = []
        # Drains stderr, so that a chatty server never blocks on a full pipe.
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()

    def _read_address(self) -> str:
        assert self.process.stdout is not None
        timer = threading.Timer(60, self.process.kill)
        timer.start()
        try:
            line = self.process.stdout.readline()
        finally:
            timer.cancel()
        if " on http://" not in line:
            _, err = self.process.communicate(timeout=10)
            pytest.fail(f"the dashboard did not start: {line!r} {err}")
        return line.split(" on ", 1)[1].split()[0].rstrip("/")

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._drainer.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@contextlib.contextmanager
def dashboard(url: str, cwd: Path) -> Iterator[Dashboard]:
    """Runs a dashboard over ``url`` for the duration of the block."""
    server = Dashboard(url, cwd)
    try:
        yield server
    finally:
        server.stop()


def chromium_path() -> str | None:
    """Returns the system Chromium (``OMEGA_CHROMIUM`` overrides), or None."""
    explicit = os.environ.get("OMEGA_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot_dir() -> Path:
    """Returns the folder for screenshots (``OMEGA_DASHBOARD_SCREENSHOTS`` overrides)."""
    folder = Path(
        os.environ.get("OMEGA_DASHBOARD_SCREENSHOTS", REPO / "out" / "dashboard-screenshots")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder
