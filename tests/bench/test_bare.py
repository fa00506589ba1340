"""The bare baselines (bench/bare/): Django + DRF alone, served as the service is."""

import json
import os
import subprocess
import sys

import pytest
import requests
from django.db import connection

from bench import harness
from carts.models import Product
from tests.factories import ProductFactory

SERVICE_PACKAGES = {"addtocart", "carts", "accounts", "health", "dashboard", "integrations"}


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def bare_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env |= {"DJANGO_SETTINGS_MODULE": "bench.bare.settings", "DATABASE_URL": database_url()}
    return env | extra


def test_the_bare_project_imports_nothing_of_the_service():
    script = (
        "import json, sys, bench.bare.wsgi, bench.bare.urls, bench.bare.views\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        cwd=harness.ROOT,
        env=bare_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(finished.stdout))
    assert "rest_framework" in loaded
    assert not loaded & SERVICE_PACKAGES


def test_the_service_settings_are_read_for_other_apps(tmp_path):
    env = bare_env(
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        WEB_CONCURRENCY="2",
        GUNICORN_MAX_REQUESTS="1234",
        GUNICORN_WORKER_CLASS="gthread",
    )
    settings = harness.config_settings(env)

    assert settings["workers"] == 2
    assert settings["worker_class"] == "gthread"
    assert settings["max_requests"] == 1234
    assert settings["preload_app"] is True
    assert not settings.keys() & {"bind", "logconfig_dict", "on_starting", "child_exit"}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_bare_baselines_serve_with_the_service_gunicorn_settings(tmp_path):
    product = ProductFactory(stock=7)
    before = product.updated_at
    env = bare_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"), WEB_CONCURRENCY="2")
    settings = harness.config_settings(env)
    env["BENCH_GUNICORN_SETTINGS"] = json.dumps(settings)
    with harness.gunicorn(
        env,
        tmp_path / "bare.log",
        app="bench.bare.wsgi",
        config="bench/bare/gunicorn.conf.py",
        ready="/bench/json/",
        workers=2,
        seconds=30,
    ) as bare:
        plain = requests.get(f"{bare.url}/bench/json/", timeout=10)
        write = requests.post(f"{bare.url}/bench/write/{product.pk}/", timeout=10)

    assert plain.status_code == 200
    assert plain.json()["status"] == "ok"
    assert plain.headers["X-Bench-Queries"] == "0"
    assert write.status_code == 200
    assert write.json() == {"id": product.pk, "stock": 7}
    assert write.headers["X-Bench-Queries"] == "2"  # the SELECT and the UPDATE
    assert Product.objects.get(pk=product.pk).updated_at > before
