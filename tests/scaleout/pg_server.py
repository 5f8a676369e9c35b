"""A throw-away PostgreSQL server for the scale-out tests: Debian's binaries, loopback only.

``PgServer.start()`` runs ``initdb`` into a fresh temporary folder and ``pg_ctl start``
on a free port, listening on 127.0.0.1 and on a Unix socket in that folder (``-k``), with
trust authentication for the role ``omega``. When the tests run as root, the server runs
as the ``postgres`` user (``initdb`` refuses root) through ``runuser``, in a folder that
user owns. ``stop()`` stops the server and removes the folder.

Missing server binaries raise :class:`PgUnavailable` with the install line; the fixture
turns it into a test failure, never a skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PgServer", "PgUnavailable", "find_pg_bin"]

#: The role the tests connect as (trust authentication, loopback only).
ROLE = "omega"

_NEEDED = ("initdb", "pg_ctl", "postgres")


class PgUnavailable(RuntimeError):
    """The PostgreSQL server binaries (or the user to run them as) are missing."""


def find_pg_bin() -> Path:
    """Returns the folder with initdb, pg_ctl and postgres (newest Debian version first).

    ``OMEGA_PG_BIN`` overrides the search; then ``/usr/lib/postgresql/*/bin`` (Debian and
    Ubuntu), then the folder of an ``initdb`` on PATH.
    """
    candidates: list[Path] = []
    if os.environ.get("OMEGA_PG_BIN"):
        candidates.append(Path(os.environ["OMEGA_PG_BIN"]))

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", Path(path).parent.name))

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    ]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if all((folder / name).is_file() for name in _NEEDED):
            return folder
    raise PgUnavailable(
        "PostgreSQL server binaries not found (initdb, pg_ctl and postgres under "
        "/usr/lib/postgresql/*/bin, on PATH, or in $OMEGA_PG_BIN); the scale-out tests "
        "need a real server: apt-get install -y postgresql"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgServer:
    """One running server; ``url(db)`` is the SQLAlchemy URL of database ``db``."""

    bin_dir: Path
    root: Path
    port: int = 0
    runner: list[str] = field(default_factory=list)

    @classmethod
    def start(cls) -> PgServer:
        """Initializes and starts a server; raises :class:`PgUnavailable` or RuntimeError."""
        bin_dir = find_pg_bin()
        runner: list[str] = []
        root = Path(tempfile.mkdtemp(prefix="omega-pg-"))
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(root, ignore_errors=True)
                raise PgUnavailable(
                    "running as root, PostgreSQL needs an unprivileged user to run as and "
                    "there is no 'postgres' user (apt-get install -y postgresql creates it)"
                ) from None
            if shutil.which("runuser") is None:
                raise PgUnavailable(
                    "running as root, PostgreSQL is started through runuser (util-linux), "
                    "which is missing"
                )
            os.chown(root, user.pw_uid, user.pw_gid)
            runner = ["runuser", "-u", "postgres", "--"]
        root.chmod(0o700)
        server = cls(bin_dir=bin_dir, root=root, runner=runner)
        try:
            server._initdb()
            server._pg_ctl_start()
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.runner, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed (exit {done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}"
            )
        return done

    def _initdb(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.root / "data"),
            "-U",
            ROLE,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )

    def _pg_ctl_start(self) -> None:
        last: Exception | None = None
        for _ in range(3):  # a free port can be taken between the probe and the bind
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                # Durability is not under test (the server is thrown away): faster commits.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            try:
                self._run(
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.root / "data"),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                )
                return
            except RuntimeError as exc:
                last = exc
        log = self.root / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {last}\n{tail}")

    def stop(self) -> None:
        """Stops the server (fast shutdown) and removes its folder."""
        if (self.root / "data" / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(
                    str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                    "-w", "stop",
                )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """Returns the SQLAlchemy URL (psycopg 3) of ``database`` on this server."""
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Creates database ``name`` and returns its URL."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=ROLE, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def wait_ready(self, timeout: float = 30) -> None:
        """Waits until the server accepts connections."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(
                    host="127.0.0.1", port=self.port, user=ROLE, dbname="postgres"
                ).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
