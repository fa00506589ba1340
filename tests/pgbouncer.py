"""A private PgBouncer (Debian's package) in front of the test's PostgreSQL, for tests.

Started on a free loopback port with its own configuration in a temporary folder, so the
Debian service (port 6432), if it runs, is never used. scripts/ensure-debian-packages.sh
installs the package when it is missing; a test skips when it cannot be installed.
"""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from tests.live import ROOT, LocalServer, free_port, wait_for


def pgbouncer_binary() -> str:
    result = subprocess.run(
        [str(ROOT / "scripts" / "ensure-debian-packages.sh"), "pgbouncer=pgbouncer"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if result.returncode != 0 or not os.access(binary, os.X_OK):
        pytest.skip(f"PgBouncer cannot be installed here: {result.stderr.strip()}")
    return binary


class PgBouncer(LocalServer):
    """PgBouncer on `port`, pooling connections to the server at `host:port` of `server`."""

    def __init__(self, directory: Path, server: dict, pool_mode: str, pool_size: int) -> None:
        self.directory, self.port = directory, free_port()
        self.user = server["USER"] or "postgres"
        self.log = directory / "pgbouncer.log"
        self.config = directory / "pgbouncer.ini"
        (directory / "users.txt").write_text(f'"{self.user}" ""\n')
        # `*`: any database, by the same name on the server. Servers are handed round robin
        # rather than the last one used first: consecutive transactions of a client then run
        # on different sessions every time, as they do now and then under load.
        self.config.write_text(
            f"""\
[databases]
* = host={server["HOST"] or "127.0.0.1"} port={server["PORT"] or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "users.txt"}
admin_users = {self.user}
pool_mode = {pool_mode}
default_pool_size = {pool_size}
server_round_robin = 1
max_client_conn = 200
"""
        )

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        command = [pgbouncer_binary(), str(self.config)]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            command[1:1] = ["-u", "postgres"]
            shutil.chown(self.directory, "postgres")
        with self.log.open("a") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_for(self.listening, what="pgbouncer")

    def listening(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"pgbouncer exited: {self.log.read_text()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def show(self, what: str) -> list[dict]:
        """`SHOW <what>` on PgBouncer's admin console (POOLS, SERVERS, CLIENTS, STATS...)."""
        admin = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer"
        )
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(f"SHOW {what}")
                names = [column.name for column in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            admin.close()


@contextlib.contextmanager
def pgbouncer(
    server: dict, pool_mode: str = "transaction", pool_size: int = 2
) -> Iterator[PgBouncer]:
    """PgBouncer in front of the server of `server` (a Django connection's settings_dict)."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("PgBouncer will not run as root, and there is no `postgres` user")
    with tempfile.TemporaryDirectory(prefix="addtocart-pgbouncer-") as tmp:
        bouncer = PgBouncer(Path(tmp), server, pool_mode, pool_size)
        bouncer.start()
        try:
            yield bouncer
        finally:
            bouncer.stop()
