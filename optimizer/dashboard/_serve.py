"""Starting and stopping the dashboard server."""

from __future__ import annotations

import socket
import sys

from sqlalchemy.exc import DBAPIError, NoSuchModuleError

from optimizer.dashboard._app import DashboardApp
from optimizer.dashboard._server import DashboardServer, is_loopback
from optimizer.errors import BadInputError
from optimizer.storage._readonly import readonly_warning, shown_url

__all__ = ["make_server", "serve"]


def _is_wildcard(host: str) -> bool:
    # Only compares the requested host to warn about it; nothing is bound here.
    return host in ("", "0.0.0.0", "::")  # nosec B104


def make_server(
    storage: str,
    *,
    storage_arg: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    allow_hosts: tuple[str, ...] = (),
) -> DashboardServer:
    """Returns a bound (not yet serving) dashboard server over ``storage``.

    ``port`` 0 picks a free port (see :attr:`DashboardServer.url`). Raises
    :class:`BadInputError` for a bad storage, a busy port or an unknown host.
    """
    if not 0 <= port <= 65535:
        raise BadInputError(f"--port {port}: expected a port from 0 to 65535")
    try:
        app = DashboardApp(storage, storage_arg)
    except (ImportError, NoSuchModuleError) as exc:
        raise BadInputError(
            f"--storage {shown_url(storage)}: expected an installed database driver "
            f"({exc.__cause__ or exc})"
        ) from None
    try:
        app.studies()  # a file that is no database fails here, not on the first page
    except DBAPIError as exc:
        app.close()
        reason = " ".join(str(exc.orig or exc).split())[:300]
        raise BadInputError(
            f"--storage {shown_url(storage)}: expected a readable database ({reason})"
        ) from None
    extra = tuple(allow_hosts)
    if _is_wildcard(host):
        # Bound to every interface: this machine's own names are fine too.
        extra += ("localhost", "127.0.0.1", socket.gethostname(), socket.getfqdn())
    try:
        return DashboardServer((host, port), app, extra)
    except OSError as exc:
        app.close()
        raise BadInputError(
            f"--host {host} --port {port}: cannot listen ({exc.strerror})"
        ) from None


def serve(
    storage: str,
    *,
    storage_arg: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    allow_hosts: tuple[str, ...] = (),
    verbose: bool = False,
) -> int:
    """Serves the dashboard until Ctrl-C; prints its address on stdout. Returns 0."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    server = make_server(
        storage, storage_arg=storage_arg, host=host, port=port, allow_hosts=allow_hosts
    )
    server.verbose = verbose
    if not is_loopback(host):
        print(
            f"warning: the dashboard listens on {host}, not on a loopback address: anyone who "
            "can reach this machine can read every study (there is no login)",
            file=sys.stderr,
        )
    warning = readonly_warning(storage)
    if warning:
        print(warning, file=sys.stderr)
    try:
        print(f"dashboard of {shown_url(storage)} on {server.url} (Ctrl-C stops it)", flush=True)
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        print("dashboard stopped", file=sys.stderr)
    finally:
        server.server_close()
        server.app.close()
    return 0
