"""Django's PostgreSQL backend, with a health check that costs no round trip when it can, and
an answer to "may this connection's transactions run on different server sessions?".

With CONN_HEALTH_CHECKS, Django checks a persistent connection before each request's first
query by running `SELECT 1`: a round trip to PostgreSQL on every request, which cost 0.2 to
0.5 ms of a 2 to 4 ms `GET cart/` (docs/performance.md, "What made it fast"). A connection
the server has closed (a restart, a crash, `pg_terminate_backend`, an idle timeout) has
something to read: the server's termination notice, or the end of the stream. So an idle
connection with nothing to read is taken as usable; one with something to read gets the real
check, which then fails and makes Django reconnect. urllib3 checks its kept-alive
connections the same way (`is_connection_dropped`). A peer that vanishes without closing
(a lost network) goes unnoticed by either check until TCP gives up. Behind PgBouncer the
check is the same: it sees the connection to PgBouncer, which keeps its own to the server.

Behind a pooler in transaction mode (PgBouncer's `pool_mode = transaction`) each transaction
may run on another server session, so nothing may rely on what a session keeps: statements
prepared on it (carts/db/runner.py) or a cursor held open across transactions (Django's
server-side cursors, `QuerySet.iterator()`). `DATABASE_POOL_MODE` declares the pooler; unset,
each new connection is checked once: a pooler that hands a client's transactions to several
servers cannot give it a server's own process id (a cancel request must reach the pooler,
which sends it on), so the id PostgreSQL named at connection differs from the one the server
answers to `pg_backend_pid()`. PgBouncer, in any mode, gives a random one. Then the connection
is treated as pooled in transaction mode, and a warning says to declare the setting.
"""

import logging
import select

from django.conf import settings
from django.db.backends.postgresql import base

logger = logging.getLogger("addtocart.db")
_warned = False


def _pooler_in_between(connection) -> bool:
    """Whether the backend process id given at connection is not the server's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (server_pid,) = cursor.fetchone()
    return server_pid != connection.info.backend_pid


class DatabaseWrapper(base.DatabaseWrapper):
    # Whether the current connection goes through a pooler (None: not checked yet).
    _pooled: bool | None = None

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        self._pooled = None
        return connection

    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        try:
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN)
            pending = poller.poll(0)
        except (OSError, ValueError):
            return False
        return not pending or super().is_usable()

    def sessions_pooled(self) -> bool:
        """Whether this connection's transactions may run on different server sessions, so that
        nothing may be left on a session for a later transaction."""
        mode = getattr(settings, "DATABASE_POOL_MODE", "")
        if mode:
            return mode == "transaction"
        if self._pooled is None:
            self.ensure_connection()
            with self.wrap_database_errors:
                self._pooled = _pooler_in_between(self.connection)
            if self._pooled:
                _warn_undeclared()
        return self._pooled

    def chunked_cursor(self):
        """A held server-side cursor lives on one server session; a pooled connection reads
        the rows at once instead, as with DISABLE_SERVER_SIDE_CURSORS."""
        if self.sessions_pooled():
            return self.cursor()
        return super().chunked_cursor()


def _warn_undeclared() -> None:
    global _warned
    if not _warned:
        _warned = True
        logger.warning(
            "PostgreSQL is reached through a connection pooler: the cart statements run "
            "unprepared and server-side cursors are off on its connections. Set "
            "DATABASE_POOL_MODE=transaction (or session, to keep them) to declare it."
        )
