"""Progress: a live bar on a terminal, plain lines on stderr otherwise."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import tempfile

import pytest
from opt_support import StudyWriter, cli_env

from optimizer.progress import BarProgress, LineProgress, make_progress


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = make_progress(stream)
    assert isinstance(progress, LineProgress)
    progress.start("s", total=4, done=0, failed=0, best=None)
    progress.trial_done(failed=False, best=1.5)
    progress.trial_done(failed=True, best=1.5)
    progress.batch_done()
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[s] sweep: 0/4 trials done before this run"
    assert lines[1].startswith("[s] 2/4 done, 1 failed, best score 1.5000, ")
    assert "trials/s, ETA " in lines[1]


@pytest.mark.integration
def test_a_bar_on_a_terminal(write_study: StudyWriter) -> None:
    path = write_study(n_trials=4, workers=1)
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "optimizer", "sweep", str(path)],
            cwd=tempfile.gettempdir(),
            env=cli_env(COLUMNS="120"),
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
        )
        os.close(follower)
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(leader)
    assert proc.returncode == 0
    text = screen.decode(errors="replace")
    assert "\r" in text and "4/4" in text and "failed=0" in text and "best=" in text
    assert "trial/s" in text or "s/trial" in text
    assert "[test-study]" not in text  # no plain lines on a terminal
    assert "top 4 by score" in out


def test_bar_progress_counts() -> None:
    stream = io.StringIO()
    bar = BarProgress(stream)
    bar.start("s", total=3, done=1, failed=0, best=None)
    bar.trial_done(failed=True, best=None)
    bar.close()
    assert "2/3" in stream.getvalue() and "failed=1" in stream.getvalue()
