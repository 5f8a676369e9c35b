"""The HTTP server: routes, security headers, the Host check and static files.

Standard library only (:class:`http.server.ThreadingHTTPServer`). Safety rules:

- only ``GET`` and ``HEAD``; a request whose ``Host`` header is not the bound address
  (or, on a loopback address, ``localhost``/``127.0.0.1``/``[::1]`` with the bound
  port) is refused with 421, which stops DNS-rebinding pages from reading the data;
- no route takes a file path: static files are read once at start-up into a table
  keyed by file name, and a request can only pick an entry of that table;
- every response carries a Content-Security-Policy without inline scripts,
  ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and no referrer.
"""

from __future__ import annotations

import json
import socket
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from ipaddress import ip_address
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from optimizer.dashboard._app import Conflict, DashboardApp, NotFound
from optimizer.dashboard._replay import ReplayError
from optimizer.dashboard._views import BadQuery

__all__ = [
    "SECURITY_HEADERS",
    "DashboardServer",
    "allowed_hosts",
    "is_loopback",
    "load_static",
]

#: Headers sent with every response.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def load_static() -> dict[str, tuple[bytes, str]]:
    """Returns ``{file name: (content, content type)}`` for the files under ``static/``."""
    table: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files("optimizer.dashboard").joinpath("static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in _CONTENT_TYPES:
            table[entry.name] = (entry.read_bytes(), _CONTENT_TYPES[suffix])
    return table


def is_loopback(host: str) -> bool:
    """Tells whether ``host`` (a name or an address, IPv6 maybe in brackets) is loopback."""
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Returns the ``Host`` header values accepted for a server bound to ``host:port``."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = {shown.lower(), *(name.lower() for name in extra)}
    if is_loopback(host):
        names.update(_LOOPBACK_NAMES)
    values = {f"{name}:{port}" for name in names}
    if port == 80:
        values |= names
    return frozenset(values)


@dataclass
class Response:
    """A response body with its status, content type and extra headers."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, payload: Any) -> Response:
    body = json.dumps(payload, allow_nan=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body, "application/json; charset=utf-8", {"Cache-Control": "no-store"})


def _html(status: int, body: bytes) -> Response:
    return Response(status, body, "text/html; charset=utf-8", {"Cache-Control": "no-store"})


def _segments(path: str) -> list[str] | None:
    """Splits a raw path into percent-decoded segments; None when it is malformed."""
    if not path.startswith("/"):
        return None
    try:
        parts = [unquote(part, errors="strict") for part in path[1:].split("/")]
    except UnicodeDecodeError:
        return None
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def _number(text: str) -> int:
    # ASCII digits only: str.isdigit() also takes a superscript two (which int() refuses)
    # and the fullwidth digits.
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise NotFound(f"no trial {text!r}: expected a trial number")
    return int(text)


def _query_int(query: dict[str, list[str]], key: str, default: int) -> int:
    values = query.get(key)
    if not values:
        return default
    # As _number: ASCII digits only (int() also takes "1_0", " 1 " and fullwidth digits).
    text = values[0]
    if not (text.isascii() and text.removeprefix("-").isdigit()) or len(text) > 9:
        raise BadQuery(f"{key} {text!r}: expected an integer")
    return int(text)


def _query_str(query: dict[str, list[str]], key: str, default: str) -> str:
    values = query.get(key)
    return values[0] if values else default


class DashboardServer(ThreadingHTTPServer):
    """A threading HTTP server that answers from one :class:`DashboardApp`."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], app: DashboardApp, extra_hosts: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.static = load_static()
        self.verbose = False
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        host, port = self.server_address[0], self.server_address[1]
        self.allowed = allowed_hosts(str(host), int(port), extra_hosts)

    @property
    def url(self) -> str:
        """Returns the dashboard's address, e.g. ``http://127.0.0.1:8080/``."""
        host, port = str(self.server_address[0]), int(self.server_address[1])
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    """Answers one request: checks, routes, writes the response."""

    server: DashboardServer
    server_version = "omega-dashboard"
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection gives its thread back

    def do_GET(self) -> None:
        """Answers a GET request."""
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        """Answers a HEAD request (headers only)."""
        self._answer(send_body=False)

    def _refuse_method(self) -> None:
        self._send(
            Response(
                405, b"method not allowed\n", "text/plain; charset=utf-8", {"Allow": "GET, HEAD"}
            ),
            send_body=True,
        )

    def __getattr__(self, name: str) -> Any:
        """Answers every method but GET and HEAD (POST, TRACE, PROPFIND, a lowercase
        ``get``, ...) with 405: the base class looks for ``do_<METHOD>`` and would
        answer 501 where there is none."""
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def _answer(self, *, send_body: bool) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if not host:
            response = Response(400, b"missing Host header\n", "text/plain; charset=utf-8")
        elif host not in self.server.allowed:
            response = Response(
                421, b"misdirected request: unknown Host\n", "text/plain; charset=utf-8"
            )
        else:
            response = self._route()
        self._send(response, send_body=send_body)

    def _route(self) -> Response:
        target = urlsplit(self.path)
        parts = _segments(target.path)
        # From the raw path: an API path that does not decode still answers in JSON.
        api = target.path == "/api" or target.path.startswith("/api/")
        try:
            if parts is None:
                raise NotFound("malformed path")
            try:
                query = parse_qs(target.query, max_num_fields=20)
            except ValueError:
                raise BadQuery("too many query parameters") from None
            return self._dispatch(parts, query)
        except NotFound as exc:
            if api:
                return _json(404, {"error": str(exc)})
            return _html(404, self.server.app.pages.error("Not found", str(exc)))
        except BadQuery as exc:
            return _json(400, {"error": str(exc)})
        except Conflict as exc:
            return _json(409, {"error": str(exc)})
        except ReplayError as exc:
            return _json(502, {"error": str(exc)})
        except Exception:
            traceback.print_exc(file=sys.stderr)
            if api:
                return _json(500, {"error": "internal error (see the dashboard's stderr)"})
            return _html(500, self.server.app.pages.error("Error", "internal error"))

    def _dispatch(self, parts: list[str], query: dict[str, list[str]]) -> Response:
        app = self.server.app
        match parts:
            case []:
                return _html(200, app.pages.studies())
            case ["static", name] if name in self.server.static:
                content, kind = self.server.static[name]
                return Response(200, content, kind, {"Cache-Control": "no-cache"})
            case ["study", name]:
                return _html(200, app.study_page(name))
            case ["study", name, "trial", number]:
                return _html(200, app.trial_page(name, _number(number)))
            case ["api", "studies"]:
                return _json(200, app.studies())
            case ["api", "study", name, what] if what in _STUDY_ROUTES:
                return _json(200, _STUDY_ROUTES[what](app, name, query))
            case ["api", "study", name, "trial", number]:
                return _json(200, app.trial(name, _number(number)))
            case ["api", "study", name, "trial", number, "replay"]:
                return _json(200, app.replay(name, _number(number)))
        raise NotFound(f"no page at {self.path.split('?', 1)[0]}")

    def _send(self, response: Response, *, send_body: bool) -> None:
        self.send_response(response.status)
        headers = dict(response.headers)
        headers["Content-Type"] = response.content_type
        headers["Content-Length"] = str(len(response.body))
        # A request's body is never read. A connection whose request carried one, or
        # was refused, is closed after the answer, so that no bytes following it (a
        # second request smuggled past the Host check) are taken for a next request.
        has_body = "Transfer-Encoding" in self.headers or (
            self.headers.get("Content-Length", "").strip() not in ("", "0")
        )
        if has_body or response.status >= 400:
            headers["Connection"] = "close"
            self.close_connection = True
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def version_string(self) -> str:
        """Returns the Server header: the name only, no Python version."""
        return self.server_version

    def end_headers(self) -> None:
        """Adds the security headers to every response (error responses included)."""
        for key, value in SECURITY_HEADERS.items():
            self.send_header(key, value)
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Logs requests only in verbose mode (errors are printed where they happen)."""
        if self.server.verbose:
            super().log_message(format, *args)


_STUDY_ROUTES: dict[str, Callable[[DashboardApp, str, dict[str, list[str]]], Any]] = {
    "summary": lambda app, name, _q: app.summary(name),
    "leaderboard": lambda app, name, q: app.leaderboard(
        name,
        sort=_query_str(q, "sort", "rank"),
        order=_query_str(q, "order", "asc"),
        page=_query_int(q, "page", 1),
        size=_query_int(q, "size", 50),
    ),
    "points": lambda app, name, _q: app.points(name),
    "failed": lambda app, name, _q: app.failed(name),
    "importance": lambda app, name, _q: app.importance(name),
}
