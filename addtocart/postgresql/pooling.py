"""What a connection pooler in front of PostgreSQL rules out, checked when the settings load.

`DATABASE_POOL_MODE` is the pooler's pool mode, as PgBouncer names it. In `transaction` mode
each transaction may run on another server session, so nothing may be left on one: no
prepared statements (carts/db/runner.py), no server-side cursors held between transactions,
and no session settings sent at connection, which PgBouncer refuses (`options`) or does not
keep (`SET ROLE`). docs/deployment.md, "Behind PgBouncer".
"""

from django.core.exceptions import ImproperlyConfigured

POOL_MODES = ("session", "transaction")
SESSION_OPTIONS = ("options", "assume_role")


def configure(database: dict, pool_mode: str, prepared_statements: bool) -> None:
    """Check the pool mode against the other database settings; in transaction mode, turn
    off Django's server-side cursors in `database` (a DATABASES entry)."""
    if pool_mode and pool_mode not in POOL_MODES:
        raise ImproperlyConfigured(
            f"DATABASE_POOL_MODE must be session or transaction, not {pool_mode!r} "
            "(Django's transactions need more than one statement: no statement pooling)."
        )
    if pool_mode != "transaction":
        return
    if prepared_statements:
        raise ImproperlyConfigured(
            "DATABASE_PREPARED_STATEMENTS cannot be true with DATABASE_POOL_MODE=transaction: "
            "a transaction may run on a session that never prepared the statements."
        )
    if session_options := sorted(set(SESSION_OPTIONS) & set(database.get("OPTIONS", {}))):
        raise ImproperlyConfigured(
            f"DATABASE_URL sets {', '.join(session_options)}, session settings that PgBouncer "
            "in transaction mode refuses or does not keep: set them on the database role "
            "instead (ALTER ROLE ... SET ...)."
        )
    database["DISABLE_SERVER_SIDE_CURSORS"] = True
