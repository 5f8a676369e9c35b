"""``dashboard``: read-only web pages over the storage's studies (OPTIMIZER §6)."""

from __future__ import annotations

import argparse

from optimizer.commands._base import Command, add_storage_argument
from optimizer.storage import resolve_storage

__all__ = ["DashboardCommand"]


class DashboardCommand(Command):
    """Serves the study dashboard until Ctrl-C."""

    name = "dashboard"
    help = "serve the web dashboard of the storage's studies (read-only)"
    description = (
        "Serves read-only web pages over the storage: the studies, each study's "
        "leaderboard, history, parameter plots, importances and heatmap, and each trial's "
        "metrics, equity curve, trades and replay command. Pages refresh while a sweep "
        "runs. Listens on 127.0.0.1 unless --host says otherwise."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Adds --storage, --host, --port, --allow-host and --verbose."""
        add_storage_argument(parser, study_file=False)
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            type=_listen_host,
            help="address to listen on (default 127.0.0.1; anything else is reachable "
            "from other machines and prints a warning)",
        )
        parser.add_argument(
            "--port", type=int, default=8080, help="port to listen on (default 8080; 0: any)"
        )
        parser.add_argument(
            "--allow-host",
            action="append",
            default=[],
            metavar="NAME",
            help="another name that browsers may use for this server in the Host header "
            "(repeatable; e.g. the machine's address when --host is not loopback)",
        )
        parser.add_argument("--verbose", action="store_true", help="log every request on stderr")

    def run(self, args: argparse.Namespace) -> int:
        """Serves until Ctrl-C and returns 0."""
        from optimizer.dashboard import serve

        return serve(
            resolve_storage(args.storage),
            storage_arg=args.storage,
            host=args.host,
            port=args.port,
            allow_hosts=tuple(args.allow_host),
            verbose=args.verbose,
        )


def _listen_host(text: str) -> str:
    """Returns ``--host``'s value; an empty one (an unset shell variable) is refused: it
    would listen on every interface."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"expected an address such as 127.0.0.1 (an empty one listens on every "
            f"interface; say 0.0.0.0 to mean that), got {text!r}"
        )
    return text
