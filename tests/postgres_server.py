"""A private PostgreSQL server for the tests: Debian's binaries, a throwaway cluster on loopback.

It runs as the ``postgres`` user when the tests run as root (``initdb`` refuses root), on a
free port, with password login over TCP, and is removed when the tests end.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path


def binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, if PostgreSQL's server is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """Start with ``start()``; ``url`` then logs in as user ``reflect`` with a password."""

    def __init__(self, bin_dir: Path, port: int) -> None:
        self.bin_dir, self.port = bin_dir, port
        self.password = secrets.token_hex(12)
        self.folder = Path(tempfile.mkdtemp(prefix="reflect-pg-"))
        self.data = self.folder / "data"
        self.owner = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://reflect:{self.password}@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        secret = self.folder / "password"
        secret.write_text(self.password)
        if self.owner:
            user = pwd.getpwnam(self.owner)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            os.chown(secret, user.pw_uid, user.pw_gid)
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "reflect",
            f"--pwfile={secret}", "--auth-host=scram-sha-256", "--auth-local=trust",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off"
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l",
            str(self.folder / "server.log"), "-w", "-o", options, "start",
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
