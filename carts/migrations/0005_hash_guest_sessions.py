"""Guest session tokens at rest become their SHA-256 (carts/guest_sessions.py).

Carts: one UPDATE per vendor, `session_id` := hex SHA-256 of it (PostgreSQL's sha256(); on
SQLite the same function registered from Python). Idempotency records (a day or two of them;
the purge removes older ones), in batches in Python, all converted, none deleted:
- `guest:<token>` owners become `guest:<digest>`;
- a `new-guest` record's key becomes its SHA-256, and the session id of its answer is sealed
  with the key it had, as carts/idempotency.py does (`guest_session_seal`, copied here so that
  this migration does not change if that module does);
- no stored answer keeps a session id: the `X-Session-ID` header and the body's `session_id`
  are dropped (a replay puts back the id the retry sends, or the sealed one).

Irreversible: a digest gives no token back. Migrating backwards leaves the digests, and
the code of before, which looks carts up by token, no longer finds the guests' carts (the
users' carts are untouched).

The release: the pods of the previous release keep serving while this runs, and after it
they no longer find guest carts (they would start new ones, which the new release does not
see). Guest carts touched during the rollout may so lose those changes; users' carts do not.
"""

import hashlib
import hmac

from django.db import migrations, models

BATCH = 1000
SEAL = b"carts.guest-session.seal"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _seal(session_id: str, *, secret: str, context: str) -> str:
    """carts.guest_sessions.guest_session_seal, as of this migration, without the check of
    the signature (the id was issued by this service, perhaps under an older secret key)."""
    raw = session_id.rsplit(":", 1)[0].encode()
    pad = hmac.new(secret.encode(), SEAL + context.encode(), hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(raw, pad[: len(raw)], strict=True)).hex()


def hash_cart_sessions(apps, schema_editor) -> None:
    connection = schema_editor.connection
    table = schema_editor.quote_name(apps.get_model("carts", "Cart")._meta.db_table)
    if connection.vendor == "postgresql":
        digest = "encode(sha256(convert_to(session_id, 'UTF8')), 'hex')"
    else:
        connection.ensure_connection()
        connection.connection.create_function("carts_sha256_hex", 1, _digest, deterministic=True)
        digest = "carts_sha256_hex(session_id)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET session_id = {digest} WHERE session_id IS NOT NULL"  # noqa: S608
        )


def convert_record(record) -> None:
    """One idempotency record, in place (see the module)."""
    headers = dict(record.response_headers or {})
    session_id = headers.pop("X-Session-ID", None)
    if record.owner.startswith("guest:"):
        record.owner = "guest:" + _digest(record.owner.removeprefix("guest:"))
    elif record.owner == "new-guest":
        if session_id and len(session_id.rsplit(":", 1)[0]) <= 32:
            headers["sealed-session"] = _seal(session_id, secret=record.key, context=str(record.pk))
        record.key = _digest(record.key)
    record.response_headers = headers
    if isinstance(record.response_body, dict) and "session_id" in record.response_body:
        record.response_body = {**record.response_body, "session_id": None}


def hash_idempotency_records(apps, schema_editor) -> None:
    IdempotencyRecord = apps.get_model("carts", "IdempotencyRecord")
    records = IdempotencyRecord.objects.using(schema_editor.connection.alias).order_by("pk")
    last = 0
    while batch := list(records.filter(pk__gt=last)[:BATCH]):
        for record in batch:
            convert_record(record)
        records.bulk_update(batch, ["owner", "key", "response_headers", "response_body"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("carts", "0004_checkout_in_phases"),
    ]

    operations = [
        migrations.AlterField(
            model_name="cart",
            name="session_id",
            field=models.CharField(
                blank=True,
                help_text="The SHA-256 of the guest session's token, never the token itself.",
                max_length=64,
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="key",
            field=models.CharField(
                help_text="The Idempotency-Key; a new guest's as its SHA-256.", max_length=255
            ),
        ),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="owner",
            field=models.CharField(
                help_text="user:<id>, guest:<SHA-256 of the session's token>, or new-guest for "
                "a first write",
                max_length=80,
            ),
        ),
        migrations.RunPython(hash_cart_sessions, migrations.RunPython.noop),
        migrations.RunPython(hash_idempotency_records, migrations.RunPython.noop),
    ]
