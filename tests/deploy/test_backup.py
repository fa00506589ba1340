"""`make backup` and `make restore` give back every cart and line exactly.

A scratch database on the test server is migrated and filled through the cart services
(carts active, checked out, merged and abandoned), backed up, dropped, made again empty and
restored; every row of the cart tables must come back the same.
"""

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import kubernetes_validate
import psycopg2
import pytest
import yaml
from psycopg2 import sql

from tests.live import ROOT

pytestmark = pytest.mark.slow

CRONJOB = ROOT / "deploy" / "k8s" / "examples" / "backup-cronjob.yaml"
KUBERNETES_VERSION = "1.37.0"

TABLES = (
    "carts_product",
    "carts_cart",
    "carts_cartitem",
    "carts_idempotencyrecord",
    "auth_user",
    "token_blacklist_outstandingtoken",
    "django_migrations",
)

# Shoppers of every kind, through the services the API uses.
FILL = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from carts import services
from carts.models import Product
from carts.domain import CartOwner

call_command("load_demo_catalog")
products = list(Product.objects.filter(stock__gt=0).order_by("pk"))
users = [get_user_model().objects.create_user(f"backup{n}") for n in range(6)]
for n, user in enumerate(users):
    owner = CartOwner(user_id=user.pk)
    for i, product in enumerate(products[: n + 2]):
        services.cart_item_add(owner=owner, product_id=product.pk, quantity=i + 1)
    if n % 2 == 0:
        services.cart_checkout(owner=owner)
for n in range(4):
    guest = CartOwner(session_token=f"guest-token-{n}")
    for product in products[n : n + 3]:
        services.cart_item_add(owner=guest, product_id=product.pk, quantity=n + 1)
services.cart_merge(user_id=users[1].pk, session_token="guest-token-0")
services.cart_abandon_idle(now=timezone.now() + timedelta(days=2), batch_size=2)
services.cart_item_add(owner=CartOwner(session_token="guest-token-9"), product_id=products[0].pk)
"""


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def admin(url: str, statement: sql.Composable) -> None:
    """Run a statement that cannot run in a transaction (CREATE/DROP DATABASE)."""
    conn = psycopg2.connect(with_database(url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


@contextlib.contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """The URL of an empty database `<prefix>_<random>` on the test server, then dropped."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    url = with_database(os.environ["DATABASE_URL"], name)
    admin(url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url
    finally:
        admin(url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def scratch_database() -> Iterator[str]:
    missing = [tool for tool in ("pg_dump", "psql") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs PostgreSQL's client tools: {', '.join(missing)}")
    with scratch_postgres("addtocart_backup_test") as url:
        yield url


def run(*command: str, database_url: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": database_url, "REDIS_URL": "", **env},
    )


def manage(database_url: str, *args: str) -> str:
    done = run(sys.executable, "manage.py", *args, database_url=database_url)
    assert done.returncode == 0, done.stderr
    return done.stdout


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of the tables that matter, in primary key order, and the sequences."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            rows = {}
            for table in TABLES:
                cursor.execute(sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(table)))
                rows[table] = cursor.fetchall()
            cursor.execute("SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")
            rows["sequences"] = cursor.fetchall()
            cursor.execute("SELECT status, count(*) FROM carts_cart GROUP BY status ORDER BY 1")
            rows["carts by status"] = cursor.fetchall()
            return rows
    finally:
        conn.close()


def recreate_empty(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin(url, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    admin(url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def test_backup_then_restore_into_an_empty_database_gives_back_every_cart(
    scratch_database, tmp_path
):
    url = scratch_database
    manage(url, "migrate", "--no-input", "-v", "0")
    manage(url, "shell", "-c", FILL)
    before = snapshot(url)
    lines = len(before["carts_cartitem"])
    assert dict(before["carts by status"]) == {
        "abandoned": 6,
        "active": 1,
        "checked_out": 3,
        "merged": 1,
    }
    assert lines == 40

    backup = run("make", "-s", "backup", f"BACKUP_DIR={tmp_path}", database_url=url)
    assert backup.returncode == 0, backup.stderr
    file = Path(backup.stdout.strip().splitlines()[-1])
    assert re.fullmatch(r"backup_\d{8}_\d{6}\.sql", file.name)
    assert file.parent == tmp_path
    assert "carts_cartitem" in file.read_text()
    assert list(tmp_path.iterdir()) == [file]  # no partial file left behind

    recreate_empty(url)
    restore = run("make", "-s", "restore", f"FILE={file}", database_url=url)
    assert restore.returncode == 0, restore.stderr

    assert snapshot(url) == before
    manage(url, "migrate", "--check")  # the restored schema is the code's
    # Sequences came back too: new rows do not collide with restored ones.
    manage(url, "shell", "-c", FILL.replace("backup{n}", "after{n}").replace("-token-", "-after-"))
    assert len(snapshot(url)["carts_cartitem"]) == 2 * lines


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(scratch_database, tmp_path):
    url = scratch_database
    manage(url, "migrate", "--no-input", "-v", "0")
    manage(url, "shell", "-c", FILL)
    backed_up = snapshot(url)
    backup = run("scripts/backup.sh", database_url=url, BACKUP_DIR=str(tmp_path / "make"))
    assert backup.returncode == 0, backup.stderr
    made = backup.stdout.strip()
    # The example CronJob's command, with its volume here, makes the same backup.
    script = cronjob_container()["args"][0].replace("/backups", str(tmp_path / "cronjob"))
    (tmp_path / "cronjob").mkdir()
    scheduled = run("sh", "-c", script, database_url=url)
    assert scheduled.returncode == 0, scheduled.stderr
    [file] = (tmp_path / "cronjob").glob("backup_*.sql")
    assert strip_dump_keys(file.read_text()) == strip_dump_keys(Path(made).read_text())
    # Something changes after the backup.
    manage(url, "shell", "-c", "from carts.models import CartItem; CartItem.objects.all().delete()")
    changed = snapshot(url)
    assert changed != backed_up

    refused = run("scripts/restore.sh", str(file), database_url=url)
    assert refused.returncode == 1
    assert "Refusing to restore" in refused.stderr
    assert snapshot(url) == changed

    forced = run("scripts/restore.sh", str(file), database_url=url, FORCE="1")
    assert forced.returncode == 0, forced.stderr
    assert snapshot(url) == backed_up

    broken = tmp_path / "broken.sql"
    broken.write_text(file.read_text().replace("COPY public.carts_cartitem", "COPY nowhere"))
    failed = run("scripts/restore.sh", str(broken), database_url=url, FORCE="1")
    assert failed.returncode != 0
    assert snapshot(url) == backed_up  # one transaction: a failed restore changes nothing


def cronjob_documents() -> list[dict]:
    return list(yaml.safe_load_all(CRONJOB.read_text()))


def cronjob_container() -> dict:
    [cronjob] = [doc for doc in cronjob_documents() if doc["kind"] == "CronJob"]
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def strip_dump_keys(dump: str) -> str:
    """pg_dump 15.14+ brackets a dump with a random \\restrict key; the rest must match."""
    return re.sub(r"^\\(un)?restrict \S+$", "", dump, flags=re.MULTILINE)


def test_the_backup_cronjob_example_is_valid_and_dumps_from_the_secret():
    documents = cronjob_documents()
    for doc in documents:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    [claim] = [doc for doc in documents if doc["kind"] == "PersistentVolumeClaim"]
    [cronjob] = [doc for doc in documents if doc["kind"] == "CronJob"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = cronjob_container()
    assert container["image"] == "postgres:17"
    assert 'pg_dump --no-owner --no-privileges --dbname="$DATABASE_URL"' in container["args"][0]
    assert container["env"] == [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "addtocart-secrets", "key": "DATABASE_URL"}},
        }
    ]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    claim_name = volumes[mounts["/backups"]]["persistentVolumeClaim"]["claimName"]
    assert claim_name == claim["metadata"]["name"]
    kustomizations = (ROOT / "deploy" / "k8s").glob("**/kustomization.yaml")
    assert not any("backup-cronjob" in k.read_text() for k in kustomizations)  # an example only
