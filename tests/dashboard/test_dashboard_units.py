"""Fast checks of the dashboard's pieces: hosts, read-only URLs, escaping, static files."""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

import pytest
from dash_support import HOSTILE
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from optimizer.dashboard._pages import Pages, study_href, trial_href
from optimizer.dashboard._replay import minmax_indices
from optimizer.dashboard._serve import make_server
from optimizer.dashboard._server import allowed_hosts, is_loopback, load_static
from optimizer.dashboard._views import replay_command, short_names
from optimizer.errors import BadInputError
from optimizer.storage._readonly import (
    make_readonly_engine,
    readonly_engine_kwargs,
    readonly_url,
    readonly_warning,
    shown_url,
)

PACKAGE = resources.files("optimizer.dashboard")


def test_allowed_hosts() -> None:
    hosts = allowed_hosts("127.0.0.1", 8080)
    assert {"127.0.0.1:8080", "localhost:8080", "[::1]:8080"} <= hosts
    assert "evil.example:8080" not in hosts
    assert "127.0.0.1" not in hosts  # the port is part of the name
    lan = allowed_hosts("192.168.1.5", 8080, ("dash.lan",))
    assert lan == {"192.168.1.5:8080", "dash.lan:8080"}
    assert allowed_hosts("::1", 80) >= {"[::1]", "[::1]:80", "localhost"}
    assert is_loopback("127.0.0.2")
    assert is_loopback("[::1]")
    assert not is_loopback("0.0.0.0")


def test_readonly_url_refuses_writes(tmp_path: Path) -> None:
    db = tmp_path / "my db%.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    conn.close()
    url = readonly_url(f"sqlite:///{db}")
    assert url.startswith("sqlite:///file:/")
    assert url.endswith("?mode=ro&uri=true")
    engine = make_readonly_engine(url)
    try:
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM t")).scalar() == 0
            with pytest.raises(OperationalError, match="readonly"):
                c.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()
    with pytest.raises(BadInputError, match="expected an existing database"):
        readonly_url(f"sqlite:///{tmp_path / 'missing.db'}")
    with pytest.raises(BadInputError, match="expected a SQLAlchemy URL"):
        readonly_url("not a url")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database " * 100)
    with pytest.raises(BadInputError, match=r"expected a readable database \(file is not a"):
        make_server(f"sqlite:///{garbage}", port=0)
    postgres = "postgresql://user:secret@db.internal/omega"
    assert readonly_url(postgres) == postgres
    assert "default_transaction_read_only=on" in str(readonly_engine_kwargs(postgres))
    assert readonly_warning(postgres) is None
    assert "not read-only" in str(readonly_warning("mysql+pymysql://u@h/omega"))
    assert shown_url(postgres) == "postgresql://user:***@db.internal/omega"
    assert shown_url("sqlite:///studies/omega.db") == "sqlite:///studies/omega.db"


def test_minmax_indices_keep_the_extremes() -> None:
    values = [float((i * 7919) % 1000) for i in range(50_000)]
    values[12_345] = -5.0
    values[40_000] = 5000.0
    keep = minmax_indices(values, 2000)
    assert len(keep) <= 2002
    assert keep == sorted(set(keep))
    assert {0, 12_345, 40_000, 49_999} <= set(keep)
    assert minmax_indices([1.0, 2.0], 10) == [0, 1]


def test_replay_command_is_quoted_for_the_shell() -> None:
    assert replay_command("eurusd-mrz-dev", 3, None) == (
        "python -m optimizer replay eurusd-mrz-dev --trial 3"
    )
    assert replay_command(HOSTILE, 0, "sqlite:///a b.db") == (
        "python -m optimizer replay '<img src=x onerror=alert(1)>' --trial 0 "
        "--storage 'sqlite:///a b.db'"
    )


def test_short_names() -> None:
    names = short_names(["a.x.z_window", "b.sizing.risk_pct", "c.risk_pct"])
    assert names == {
        "a.x.z_window": "z_window",
        "b.sizing.risk_pct": "b.sizing.risk_pct",
        "c.risk_pct": "c.risk_pct",
    }


def test_pages_escape_every_value() -> None:
    pages = Pages('sqlite:///"><script>alert(9)</script>.db')
    for document in (
        pages.study(HOSTILE),
        pages.trial(HOSTILE, 4),
        pages.error("Not found", f"no study named {HOSTILE!r}"),
    ):
        html = document.decode("utf-8")
        assert "<img" not in html
        assert "<script>alert" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    assert study_href(HOSTILE) == "/study/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"
    assert trial_href("a/b", 2) == "/study/a%2Fb/trial/2"


def test_static_files_are_offline_and_never_use_innerhtml() -> None:
    static = load_static()
    expected = {"common.js", "charts.js", "studies.js", "study.js", "trial.js"}
    assert expected | {"dashboard.css", "favicon.svg"} <= set(static)
    for name, (content, _) in static.items():
        source = content.decode("utf-8")
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert banned not in source, (name, banned)
        # No CDN or other remote resource: the only URL is the SVG namespace.
        urls = set(re.findall(r"https?://[^\s\"'`)]+", source))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)


def test_templates_have_no_inline_scripts_or_styles() -> None:
    for entry in PACKAGE.joinpath("templates").iterdir():
        source = entry.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), entry.name
        assert " style=" not in source, entry.name
        assert not re.search(r"<[^>]+\son[a-z]+=", source), entry.name
