"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temporary folder, a unix socket only.

The binaries are on every CI and developer machine (PostgreSQL 15), so a cluster that cannot start is a
failure, never a skip. initdb refuses to run as root; as root the cluster belongs to the `postgres` user.
Each test gets its own database (`create_database`), so tests neither see nor wait for each other's rows.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"{name} not found: install PostgreSQL (Debian: postgresql) to run the PostgreSQL tests")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="partybot-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{log}")

    def start(self) -> PostgresCluster:
        self._run(_binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")  # fmt: skip
        options = f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off -c max_connections=200"
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        subprocess.run([*self._as, _binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}&port={self.port}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host=str(self.root), port=self.port, user="postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)
