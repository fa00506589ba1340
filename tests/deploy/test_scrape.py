"""A real Prometheus (Debian's, as promtool) scrapes a real gunicorn with
deploy/prometheus/prometheus.example.yml's job: the health token read from its file gets the
samples, with the labels the rules select on; the same job without the token gets 401.

Kubernetes discovery is replaced by a static target carrying the `__meta_kubernetes_*` labels a
web pod would have, so the job's relabelling runs as in a cluster."""

import shutil
import subprocess
import time

import pytest
import requests
import yaml

from tests.deploy.support import DEPLOY, database_url, promtool
from tests.health.support import HEALTH_TOKEN
from tests.live import free_port, gunicorn, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLE = DEPLOY / "prometheus" / "prometheus.example.yml"
# What Kubernetes discovery says of a web pod (deploy/k8s/base/deployment.yaml).
WEB_POD = {
    "__meta_kubernetes_namespace": "addtocart",
    "__meta_kubernetes_pod_name": "addtocart-service-7d9f8-x2x9q",
    "__meta_kubernetes_pod_label_app": "addtocart-service",
    "__meta_kubernetes_pod_container_port_name": "http",
}


def configuration(tmp_path, target: str) -> dict:
    config = yaml.safe_load(EXAMPLE.read_text())
    config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s"}
    # The web pods' job (the webhook workers' is checked in tests/deploy/test_k8s.py).
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "addtocart-service"]
    config["scrape_configs"] = [job]
    assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    job["static_configs"] = [{"targets": [target], "labels": WEB_POD}]
    (tmp_path / "health-token").write_text(f"{HEALTH_TOKEN}\n")  # as a mounted Secret may end
    job["authorization"]["credentials_file"] = str(tmp_path / "health-token")
    without_token = {key: value for key, value in job.items() if key != "authorization"}
    config["scrape_configs"].append({**without_token, "job_name": "without-token"})
    shutil.copy(DEPLOY / "prometheus" / "addtocart-rules.yml", tmp_path)
    return config


def targets(api: str) -> dict[str, dict]:
    active = requests.get(f"{api}/targets", timeout=5).json()["data"]["activeTargets"]
    return {target["labels"]["job"]: target for target in active}


def scraped(api: str) -> bool:
    try:
        found = targets(api)
    except requests.RequestException:
        return False
    return len(found) == 2 and all(t["health"] != "unknown" for t in found.values())


def test_prometheus_scrapes_with_the_health_token_from_its_file(tmp_path):
    server = promtool("prometheus")
    with gunicorn(DATABASE_URL=database_url(), HEALTH_TOKEN=HEALTH_TOKEN) as service:
        config = configuration(tmp_path, f"127.0.0.1:{service.port}")
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        prometheus = subprocess.Popen(
            [
                server,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "prometheus.log").open("w"),
        )
        api = f"http://127.0.0.1:{port}/api/v1"
        try:
            wait_for(lambda: scraped(api), seconds=60, what="Prometheus' first scrapes")
            found = targets(api)
            time.sleep(1.5)  # a scrape's samples are queryable once it has been committed
            query = 'addtocart_database_up{app="addtocart-service",namespace="addtocart"}'
            answer = requests.get(f"{api}/query", params={"query": query}, timeout=5).json()
        finally:
            prometheus.terminate()
            prometheus.wait(timeout=30)

    log = (tmp_path / "prometheus.log").read_text()[-2000:]
    with_token, without = found["addtocart-service"], found["without-token"]
    assert with_token["health"] == "up", (with_token["lastError"], log)
    assert with_token["scrapeUrl"] == f"http://127.0.0.1:{service.port}/metrics"
    assert with_token["labels"]["app"] == "addtocart-service"
    assert with_token["labels"]["pod"] == WEB_POD["__meta_kubernetes_pod_name"]
    assert without["health"] == "down"
    assert "401" in without["lastError"]
    series = [(r["metric"]["job"], r["value"][1]) for r in answer["data"]["result"]]
    assert series == [("addtocart-service", "1")], answer
