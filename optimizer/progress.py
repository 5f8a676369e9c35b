"""Sweep progress: a live bar on a terminal, plain log lines on stderr otherwise."""

from __future__ import annotations

import io
import os
import sys
import time
from typing import Any, Protocol, TextIO

__all__ = ["BarProgress", "LineProgress", "Progress", "make_progress"]


class Progress(Protocol):
    """Receives the sweep's progress."""

    def start(self, study: str, total: int, done: int, failed: int, best: float | None) -> None:
        """Starts showing progress; ``done`` trials were finished before this run."""
        ...

    def trial_done(self, failed: bool, best: float | None) -> None:
        """Counts one finished trial."""
        ...

    def batch_done(self) -> None:
        """Marks the end of a batch (its results are stored)."""
        ...

    def close(self) -> None:
        """Stops showing progress."""
        ...


def _size(stream: TextIO) -> tuple[int, int]:
    """Returns ``(columns, lines)`` of the terminal of ``stream``, 100x24 where unknown or 0.

    A terminal that reports 0 lines (a fresh pseudo-terminal) would make tqdm hide the bar.
    """
    try:
        size = os.get_terminal_size(stream.fileno())
        columns, lines = size.columns, size.lines
    except (OSError, ValueError, io.UnsupportedOperation):
        columns = lines = 0
    return columns or 100, lines or 24


def _fmt_best(best: float | None) -> str:
    return "-" if best is None else f"{best:.4f}"


class LineProgress:
    """Plain lines on a stream (stderr), one per stored batch."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.study = ""
        self.total = self.done = self.failed = self.ran = 0
        self.best: float | None = None
        self.t0 = time.monotonic()

    def start(self, study: str, total: int, done: int, failed: int, best: float | None) -> None:
        """Starts counting and prints the first line."""
        self.study, self.total, self.done, self.failed, self.best = study, total, done, failed, best
        self.ran = 0
        self.t0 = time.monotonic()
        print(
            f"[{study}] sweep: {done}/{total} trials done before this run",
            file=self.stream,
            flush=True,
        )

    def trial_done(self, failed: bool, best: float | None) -> None:
        """Counts one finished trial (printed with the batch)."""
        self.done += 1
        self.ran += 1
        self.failed += int(failed)
        self.best = best

    def batch_done(self) -> None:
        """Prints one line: done/total, failures, best score, trials/s and ETA."""
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = self.ran / elapsed
        left = self.total - self.done
        eta = f"{left / rate:.0f} s" if rate > 0 else "?"
        print(
            f"[{self.study}] {self.done}/{self.total} done, {self.failed} failed, "
            f"best score {_fmt_best(self.best)}, {rate:.2f} trials/s, ETA {eta}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        """Nothing to clean up."""


class BarProgress:
    """A tqdm bar on a terminal: done/total, failures, best score, trials/s, ETA."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar: Any = None
        self.failed = 0

    def start(self, study: str, total: int, done: int, failed: int, best: float | None) -> None:
        """Opens the bar."""
        from tqdm import tqdm

        self.failed = failed
        columns, lines = _size(self.stream)
        self.bar = tqdm(
            total=total,
            initial=done,
            desc=study,
            unit="trial",
            file=self.stream,
            ncols=columns,
            nrows=lines,
        )
        self.bar.set_postfix_str(f"failed={failed} best={_fmt_best(best)}")

    def trial_done(self, failed: bool, best: float | None) -> None:
        """Advances the bar by one trial."""
        self.failed += int(failed)
        self.bar.set_postfix_str(f"failed={self.failed} best={_fmt_best(best)}", refresh=False)
        self.bar.update(1)

    def batch_done(self) -> None:
        """Nothing extra on a bar."""

    def close(self) -> None:
        """Closes the bar."""
        if self.bar is not None:
            self.bar.close()


def make_progress(stream: TextIO | None = None) -> Progress:
    """Returns a bar when ``stream`` (default stderr) is a terminal, else plain lines."""
    stream = stream or sys.stderr
    return BarProgress(stream) if stream.isatty() else LineProgress(stream)
