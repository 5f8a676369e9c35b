"""The dashboard's HTTP face over a real sweep: Host check, headers, routes, the JSON API."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from dash_support import FAILED_TRIAL, HOSTILE, STUDY, Dashboard, cli_env, run_cli

pytestmark = pytest.mark.integration


def request(
    server: Dashboard, path: str, *, method: str = "GET", host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Sends one request (optionally with a forged Host header); returns status, headers, body."""
    parts = urlsplit(server.base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        headers = {"Host": host} if host is not None else {}
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def get_json(server: Dashboard, path: str) -> Any:
    status, headers, body = request(server, path)
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    return json.loads(body)


def show_order(url: str) -> list[int]:
    result = run_cli("show", STUDY, "--top", "0", "--format", "json", "--storage", url)
    assert result.returncode == 0, result.stderr
    return [row["number"] for row in json.loads(result.stdout)]


def test_a_foreign_host_header_is_refused(server: Dashboard) -> None:
    port = urlsplit(server.base).port
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}"):
        status, _, _ = request(server, "/", host=host)
        assert status == 421, host
        status, _, _ = request(server, "/api/studies", host=host)
        assert status == 421, host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert request(server, "/", host=host)[0] == 200, host

    # HTTP/1.0 without any Host header.
    parts = urlsplit(server.base)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        answer = sock.recv(200)
    assert answer.split(b" ")[1] == b"400"


def test_every_response_carries_the_security_headers(server: Dashboard) -> None:
    for path in ("/", f"/study/{STUDY}", "/static/study.js", "/api/studies", "/missing"):
        _, headers, _ = request(server, path)
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "default-src 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
    _, headers, _ = request(server, "/", host="evil.example")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_only_get_and_head_are_answered(server: Dashboard) -> None:
    assert request(server, "/", method="POST")[0] == 405
    assert request(server, "/api/studies", method="DELETE")[0] == 405
    # Not 501 for the methods the server has never heard of either.
    for method in ("TRACE", "PROPFIND", "FOO", "get"):
        status, headers, _ = request(server, "/", method=method)
        assert (status, headers["Allow"]) == (405, "GET, HEAD"), method
    status, headers, body = request(server, "/", method="HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["Content-Length"]) > 0


def test_a_request_body_cannot_smuggle_a_second_request(server: Dashboard) -> None:
    # The body is never read: were the connection kept, the bytes after the refused
    # request (a request with an allowed Host) would be answered as the next request.
    parts = urlsplit(server.base)
    inner = f"GET /api/studies HTTP/1.1\r\nHost: 127.0.0.1:{parts.port}\r\n\r\n".encode()
    for method, host in (("POST", f"127.0.0.1:{parts.port}"), ("GET", "rebind.evil.example")):
        outer = (
            f"{method} / HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(inner)}\r\n\r\n"
        ).encode()
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            sock.sendall(outer + inner)
            answer = b""
            while chunk := sock.recv(65536):  # the server closes after one answer
                answer += chunk
        assert answer.count(b"HTTP/1.1 ") == 1, answer
        assert b"Connection: close" in answer


def test_trial_numbers_are_ascii_digits(server: Dashboard) -> None:
    for number in ("%C2%B2", "%EF%BC%91", "%D9%A1", "-1", "1e3", "0x1"):
        status, _, body = request(server, f"/api/study/{STUDY}/trial/{number}")
        assert status == 404, (number, body)
        assert request(server, f"/study/{STUDY}/trial/{number}")[0] == 404


def test_api_paths_that_do_not_decode_answer_in_json(server: Dashboard) -> None:
    for path in ("/api/study/%ff/summary", "/api/%ff", f"/api/study/{STUDY}/trial/%c3"):
        status, headers, body = request(server, path)
        assert status == 404, path
        assert headers["Content-Type"].startswith("application/json"), path
        assert "error" in json.loads(body)
    status, headers, _ = request(server, "/study/%ff")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")


def test_no_route_reads_a_file_path(server: Dashboard) -> None:
    for path in (
        "/static/../../pyproject.toml",
        "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/static/..%2f_server.py",
        "/static/_server.py",
        "/static/",
        "/templates/base.html",
        "/static/common.js/x",
    ):
        status, _, body = request(server, path)
        assert status == 404, path
        assert b"[tool" not in body
    status, headers, _ = request(server, "/static/common.js")
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"


def test_the_leaderboard_api_ranks_sorts_and_pages(
    server: Dashboard, swept: tuple[str, Path]
) -> None:
    url, _ = swept
    order = show_order(url)
    base = f"/api/study/{STUDY}/leaderboard"
    first = get_json(server, f"{base}?size=100")
    assert [r["number"] for r in first["rows"]] == order
    assert [r["rank"] for r in first["rows"]] == list(range(1, len(order) + 1))

    page = get_json(server, f"{base}?size=5&page=2")
    assert [r["number"] for r in page["rows"]] == order[5:10]
    assert page["pages"] == 4
    last = get_json(server, f"{base}?size=5&page=99")
    assert last["page"] == 4
    assert [r["number"] for r in last["rows"]] == order[15:]

    by_profit = get_json(server, f"{base}?sort=profit_net&order=desc&size=100")["rows"]
    profits = [r["metrics"]["profit_net"] for r in by_profit]
    assert profits == sorted(profits, reverse=True)
    path = quote("param:strategy.params.z_window", safe="")
    by_window = get_json(server, f"{base}?sort={path}&size=100")["rows"]
    windows = [r["params"]["strategy.params.z_window"] for r in by_window]
    assert windows == sorted(windows)
    reversed_rank = get_json(server, f"{base}?order=desc&size=100")["rows"]
    assert [r["number"] for r in reversed_rank] == order[::-1]

    odd_integers = ("page=1_0", "page=%201%20", "page=%EF%BC%92")  # 1_0, " 1 ", fullwidth 2
    for query in (
        "sort=__class__",
        "order=sideways",
        "size=0",
        "size=501",
        "page=x",
        *odd_integers,
    ):
        status, _, body = request(server, f"{base}?{query}")
        assert status == 400, query
        assert "error" in json.loads(body)


def test_trial_documents(server: Dashboard, swept: tuple[str, Path]) -> None:
    url, _ = swept
    best = show_order(url)[0]
    trial = get_json(server, f"/api/study/{STUDY}/trial/{best}")
    assert trial["rank"] == 1
    assert isinstance(trial["seed"], str)  # 64-bit seeds do not fit a JavaScript number
    assert trial["replay_command"].endswith(f"--trial {best} --storage {url}")
    assert len(trial["metrics"]) == 15

    replay = get_json(server, f"/api/study/{STUDY}/trial/{best}/replay")
    assert replay["metrics_match"] is True
    assert replay["trades_total"] == trial["metrics"][0][1]  # "trades"
    assert len(replay["equity"]["t"]) == len(replay["equity"]["equity"]) > 10
    assert max(replay["drawdown"]["pct"]) <= 0.0
    # Times in milliseconds, named so (a JavaScript number cannot hold epoch ns exactly).
    first = replay["trades"][0]
    assert "entry_time_ns" not in first and first["entry_time_ms"] <= first["exit_time_ms"]
    assert 1.6e12 < first["entry_time_ms"] < 2e12  # 2020 to 2033 in epoch milliseconds
    again = get_json(server, f"/api/study/{STUDY}/trial/{best}/replay")
    assert again == replay  # served from the cache

    failed = get_json(server, f"/api/study/{STUDY}/trial/{FAILED_TRIAL}")
    assert failed["error"]["category"] == "exception"
    assert request(server, f"/api/study/{STUDY}/trial/{FAILED_TRIAL}/replay")[0] == 409
    assert request(server, f"/api/study/{STUDY}/trial/999")[0] == 404
    assert request(server, f"/study/{STUDY}/trial/999")[0] == 404
    assert request(server, "/api/study/no-such-study/summary")[0] == 404


def test_studies_summary_points_and_importance(server: Dashboard) -> None:
    studies = {s["name"]: s for s in get_json(server, "/api/studies")["studies"]}
    assert studies[STUDY]["done"] == 20
    assert studies[STUDY]["failed"] == 1
    assert studies[STUDY]["phase"] == "finished"
    assert studies[HOSTILE]["failed"] == 1

    points = get_json(server, f"/api/study/{STUDY}/points")
    assert len(points["number"]) == 19
    assert points["failed"] == [FAILED_TRIAL]
    assert points["best"] == [max(points["objective"][: i + 1]) for i in range(19)]

    importance = get_json(server, f"/api/study/{STUDY}/importance")
    assert importance["status"] == "ok"
    assert sum(i["value"] for i in importance["importances"]) == pytest.approx(1.0)
    hostile = get_json(server, f"/api/study/{quote(HOSTILE, safe='')}/importance")
    assert hostile["status"] == "too_few"


def test_the_database_is_never_written(server: Dashboard, swept: tuple[str, Path]) -> None:
    url, folder = swept
    db = Path(url.removeprefix("sqlite:///"))
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for path in (
        "/api/studies",
        f"/api/study/{STUDY}/summary",
        f"/api/study/{STUDY}/leaderboard",
        f"/api/study/{STUDY}/points",
        f"/api/study/{STUDY}/importance",
        f"/api/study/{STUDY}/failed",
        f"/api/study/{STUDY}/trial/0",
    ):
        get_json(server, path)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (folder / "omega.db-journal").exists()


def test_binding_beyond_loopback_warns(swept: tuple[str, Path]) -> None:
    url, folder = swept
    command = [sys.executable, "-m", "optimizer.dashboard", "--storage", url]
    with subprocess.Popen(
        [*command, "--host", "0.0.0.0", "--port", "0"],
        cwd=folder,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert " on http://0.0.0.0:" in line
    assert "warning: the dashboard listens on 0.0.0.0" in err


def dashboard_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m optimizer.dashboard ARGS`` (expected to stop at once) in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "optimizer.dashboard", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_empty_host_is_refused_not_every_interface(tmp_path: Path) -> None:
    for host in ("", " "):
        result = dashboard_cli(tmp_path, "--host", host, "--port", "0")
        assert result.returncode == 2, result.stderr
        assert "argument --host: expected an address such as 127.0.0.1" in result.stderr
        assert result.stdout == ""


@pytest.mark.parametrize(
    "url", ["bogus://x", "mysql://user:secret@localhost/db"], ids=["dialect", "driver"]
)
def test_an_unknown_database_driver_is_bad_input(url: str, tmp_path: Path) -> None:
    result = dashboard_cli(tmp_path, "--storage", url, "--port", "0")
    assert result.returncode == 2, result.stderr
    assert "expected an installed database driver" in result.stderr
    assert "Traceback" not in result.stderr and "secret" not in result.stderr


def test_a_missing_database_is_bad_input(tmp_path: Path) -> None:
    result = dashboard_cli(tmp_path, "--storage", f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --storage sqlite:///")
    assert "expected an existing database" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()
