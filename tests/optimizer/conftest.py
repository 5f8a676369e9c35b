"""Shared fixtures: a small sliced copy of the EURUSD fixtures, study files, a marker."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator

import pytest
from opt_fixtures import base_config, small_data, write_study  # noqa: F401 (fixtures)
from opt_support import (
    marked_processes,
)


@pytest.fixture
def marker() -> Iterator[str]:
    """Returns a unique environment marker; kills leftover marked processes at the end."""
    value = f"OMEGA_TEST_MARK={uuid.uuid4().hex}"
    yield value
    for pid in marked_processes(value):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
