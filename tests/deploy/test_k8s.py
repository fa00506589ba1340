"""The Kubernetes manifests: each overlay renders with kubectl's kustomize, every object is
valid for a current Kubernetes (strict schemas, offline), and the promises of
docs/deployment.md, "Kubernetes", hold in what is rendered."""

import base64
import functools
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import uuid

import kubernetes_validate
import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.support import (
    DEPLOY,
    ROOT,
    assert_released,
    database_url,
    expired_checkout,
    run,
    tool,
)
from tests.deploy.test_prometheus import WORKER_METRICS
from tests.integrations.receiver import Receiver
from tests.live import free_port, http_ok, wait_for

K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ["dev", "prod"]
SECRET_KEYS = {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "HEALTH_TOKEN"}
JOB_SECRET_KEYS = SECRET_KEYS - {"HEALTH_TOKEN"}
CRONJOBS = {
    "addtocart-mark-abandoned-carts": ("*/15 * * * *", ["mark_abandoned_carts"]),
    "addtocart-purge-carts": ("30 3 * * *", ["purge_carts", "--older-than", "90"]),
    "addtocart-warm-cache": ("5 * * * *", ["warm_cache"]),
    "addtocart-release-expired-reservations": ("* * * * *", ["release_expired_reservations"]),
}
SWEEPER = "addtocart-release-expired-reservations"
WORKER = "addtocart-webhook-worker"
PROMETHEUS_EXAMPLE = DEPLOY / "prometheus" / "prometheus.example.yml"


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    result = run([tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)])
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects(overlay: str, kind: str) -> list[dict]:
    return [doc for doc in render(overlay) if doc["kind"] == kind]


def one(overlay: str, kind: str, name: str) -> dict:
    (found,) = [doc for doc in objects(overlay, kind) if doc["metadata"]["name"] == name]
    return found


def deployment(overlay: str) -> dict:
    return one(overlay, "Deployment", "addtocart-service")


def web_container(overlay: str) -> dict:
    (container,) = deployment(overlay)["spec"]["template"]["spec"]["containers"]
    return container


def worker(overlay: str) -> dict:
    return one(overlay, "Deployment", WORKER)


def worker_container(overlay: str) -> dict:
    (container,) = worker(overlay)["spec"]["template"]["spec"]["containers"]
    return container


def scrape_job(name: str) -> dict:
    config = yaml.safe_load(PROMETHEUS_EXAMPLE.read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == name]
    return job


def configmap(overlay: str) -> dict:
    (found,) = [
        doc
        for doc in objects(overlay, "ConfigMap")
        if doc["metadata"]["name"].startswith("addtocart-config")
    ]
    return found


def pod_specs(overlay: str) -> dict[str, dict]:
    """Every pod spec of ours: the web pods, the webhook workers, the migration Job's and the
    CronJobs'."""
    specs = {
        "addtocart-service": deployment(overlay)["spec"]["template"]["spec"],
        WORKER: worker(overlay)["spec"]["template"]["spec"],
    }
    for job in objects(overlay, "Job"):
        specs[job["metadata"]["name"]] = job["spec"]["template"]["spec"]
    for cron in objects(overlay, "CronJob"):
        specs[cron["metadata"]["name"]] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs


# --- Rendering and schemas --------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders(overlay):
    kinds = {doc["kind"] for doc in render(overlay)}
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Job",
        "CronJob",
    } <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_kubernetes(overlay):
    failures = []
    for doc in render(overlay):
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{name}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            failures.append(f"{name}: {error.message}")  # a CRD: none is expected
    assert not failures, "\n".join(failures)


def test_the_validation_is_strict():
    """A control: an unknown field and a wrong type are refused."""
    doc = json.loads(json.dumps(deployment("prod")))
    doc["spec"]["template"]["spec"]["terminationGracePeriod"] = 45
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    doc = json.loads(json.dumps(deployment("prod")))
    doc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8000"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


# --- The web pods ----------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployment_labels_and_port(overlay):
    spec = deployment(overlay)["spec"]
    assert deployment(overlay)["metadata"]["labels"]["app"] == "addtocart-service"
    assert spec["selector"]["matchLabels"] == {"app": "addtocart-service"}
    assert spec["template"]["metadata"]["labels"]["app"] == "addtocart-service"
    assert "replicas" not in spec  # the HPA's
    assert web_container(overlay)["ports"] == [
        {"name": "http", "containerPort": 8000, "protocol": "TCP"}
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes(overlay):
    container = web_container(overlay)
    for probe, path in [
        ("startupProbe", "/api/v1/health/live"),
        ("livenessProbe", "/api/v1/health/live"),
        ("readinessProbe", "/api/v1/health/ready"),
    ]:
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_resources_are_the_runbooks(overlay):
    resources = web_container(overlay)["resources"]
    assert resources["requests"] == {"cpu": "250m", "memory": "512Mi"}
    assert resources["limits"] == {"memory": "1Gi"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_graceful_shutdown_fits_in_the_grace_period(overlay):
    pod = deployment(overlay)["spec"]["template"]["spec"]
    container = web_container(overlay)
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "10"]
    graceful = int(configmap(overlay)["data"]["GUNICORN_GRACEFUL_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] > 10 + graceful
    assert deployment(overlay)["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down(overlay):
    for name, spec in pod_specs(overlay).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            # The only writable places: /tmp, and the Prometheus samples in memory.
            assert "emptyDir" in volumes[mounts["/tmp"]], name  # noqa: S108
            prometheus = volumes[mounts["/run/prometheus"]]
            assert prometheus["emptyDir"]["medium"] == "Memory", name


def container_env(container: dict, config: dict, secrets: dict, pod_ip: str) -> dict:
    """The environment the kubelet gives the container: envFrom first, then env, whose
    `$(NAME)` refer to what is defined before them."""
    env = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, "secrets are named key by key"
        env.update(config)
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), variable["value"]
            )
        elif "fieldRef" in variable["valueFrom"]:
            assert variable["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
            env[variable["name"]] = pod_ip
        else:
            env[variable["name"]] = secrets[variable["valueFrom"]["secretKeyRef"]["key"]]
    return env


def secret_refs(container: dict) -> dict[str, tuple[str, str]]:
    return {
        variable["name"]: (
            variable["valueFrom"]["secretKeyRef"]["name"],
            variable["valueFrom"]["secretKeyRef"]["key"],
        )
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_come_from_the_configmap_and_the_secret(overlay):
    container = web_container(overlay)
    config_name = configmap(overlay)["metadata"]["name"]
    assert container["envFrom"] == [{"configMapRef": {"name": config_name}}]
    refs = secret_refs(container)
    assert set(refs) == SECRET_KEYS
    secret_name = {name for name, _ in refs.values()}
    assert len(secret_name) == 1
    assert secret_name.pop().startswith("addtocart-secrets")
    assert all(name == key for name, (_, key) in refs.items())

    data = configmap(overlay)["data"]
    for key in [
        "LOG_LEVEL",
        "ALLOWED_HOSTS",
        "WEB_CONCURRENCY",
        "TRUSTED_PROXIES",
        "CART_MAX_LINES",
        "CART_MAX_QUANTITY_PER_LINE",
        "CART_ABANDONMENT_MINUTES",
        "THROTTLE_ANON",
        "THROTTLE_USER",
        "THROTTLE_LOGIN",
        "THROTTLE_LOGIN_FAILURES",
        "THROTTLE_LOGIN_NAME",
        "LOGIN_KNOWN_ADDRESS_DAYS",
        "THROTTLE_LEASE",
        "GUNICORN_GRACEFUL_TIMEOUT",
        "WEBHOOK_TIMEOUT_SECONDS",
        "WEBHOOK_RETRY_SCHEDULE",
        "WEBHOOK_MAX_RESPONSE_BYTES",
    ]:
        assert key in data, key
    assert data["WEBHOOK_ALLOW_PRIVATE_URLS"] == "false"  # no webhook to the cluster itself
    assert data["PROMETHEUS_MULTIPROC_DIR"] == "/run/prometheus"
    assert data["DEBUG"] == "false"
    assert not SECRET_KEYS & set(data), "secrets do not belong in the ConfigMap"


def test_prod_trusts_one_proxy_and_has_no_secret_in_the_repository():
    assert configmap("prod")["data"]["TRUSTED_PROXIES"] == "1"
    assert objects("prod", "Secret") == []
    # Every pod names the Secret that is created by hand (docs/deployment.md, "Secrets").
    for name, spec in pod_specs("prod").items():
        for container in spec["containers"]:
            assert {secret for secret, _ in secret_refs(container).values()} == {
                "addtocart-secrets"
            }, name


def test_dev_generates_obviously_fake_secrets_for_its_own_stores():
    (secret,) = [
        doc
        for doc in objects("dev", "Secret")
        if doc["metadata"]["name"].startswith("addtocart-secrets")
    ]
    values = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert set(values) == SECRET_KEYS
    for key in ["DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "HEALTH_TOKEN"]:
        assert values[key].startswith("dev-only-"), key
    # The URLs point at the dev overlay's own PostgreSQL and Redis Services.
    assert re.fullmatch(
        r"postgres://addtocart:dev-only-[\w-]+@postgres:5432/addtocart", values["DATABASE_URL"]
    )
    assert values["REDIS_URL"] == "redis://redis:6379/0"
    services = {doc["metadata"]["name"]: doc for doc in objects("dev", "Service")}
    assert services["postgres"]["spec"]["ports"][0]["port"] == 5432
    assert services["redis"]["spec"]["ports"][0]["port"] == 6379


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_settings_load_and_answer_probes_at_the_pod_ip(overlay, tmp_path):
    """The web container's environment, as the kubelet builds it, loads our settings, and
    Django answers the liveness probe, which the kubelet sends with Host: <pod IP>:8000."""
    secrets = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "DJANGO_SECRET_KEY": "test-secret",
        "JWT_SIGNING_KEY": "test-jwt",
        "HEALTH_TOKEN": "test-health",
    }
    env = container_env(web_container(overlay), configmap(overlay)["data"], secrets, "10.1.2.3")
    assert "10.1.2.3" in env["ALLOWED_HOSTS"].split(",")
    env.update(
        PATH=os.environ["PATH"],
        DJANGO_SETTINGS_MODULE="addtocart.settings",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),  # /run/prometheus is the pod's
    )
    # Prod is behind TLS at the ingress: plain HTTP is redirected unless the ingress says
    # X-Forwarded-Proto: https. Dev is reached over plain HTTP by port-forward.
    plain_http = 301 if overlay == "prod" else 200
    host = env["ALLOWED_HOSTS"].split(",")[0]
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "for host in ('10.1.2.3:8000', 'localhost:8000'):\n"
        "    status = Client().get('/api/v1/health/live', HTTP_HOST=host).status_code\n"
        "    assert status == 200, (host, status)\n"
        "assert Client().get('/api/v1/health/live', HTTP_HOST='evil.example').status_code == 400\n"
        f"status = Client().get('/api/v1/docs/', HTTP_HOST='{host}').status_code\n"
        f"assert status == {plain_http}, status\n"
        f"status = Client().get('/api/v1/docs/', HTTP_HOST='{host}',\n"
        "                      HTTP_X_FORWARDED_PROTO='https').status_code\n"
        "assert status == 200, status\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_finds_the_web_pods_and_sends_the_health_token(overlay):
    """/metrics needs the health token: a generic annotation-based job is told to leave the
    pods alone (it would get 401s), and the example job finds them by label and port name,
    with the token read from a file, never written in its configuration."""
    template = deployment(overlay)["spec"]["template"]
    assert template["metadata"]["annotations"] == {"prometheus.io/scrape": "false"}
    job = scrape_job("addtocart-service")
    (keep,) = [rule for rule in job["relabel_configs"] if rule.get("action") == "keep"]
    assert keep["source_labels"] == [
        "__meta_kubernetes_pod_label_app",
        "__meta_kubernetes_pod_container_port_name",
    ]
    (port,) = web_container(overlay)["ports"]
    assert port["containerPort"] == 8000
    assert re.fullmatch(keep["regex"], f"{template['metadata']['labels']['app']};{port['name']}")
    assert not re.fullmatch(keep["regex"], f"addtocart-jobs;{port['name']}")
    assert not re.fullmatch(keep["regex"], f"{WORKER};metrics")  # the workers' job has them
    assert job["metrics_path"] == "/metrics"
    assert set(job["authorization"]) == {"type", "credentials_file"}
    assert job["authorization"]["type"] == "Bearer"
    # The web pods get the token from the Secret, as every other secret.
    env = {variable["name"]: variable for variable in web_container(overlay)["env"]}
    reference = env["HEALTH_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert reference["key"] == "HEALTH_TOKEN"
    assert reference["name"].startswith("addtocart-secrets")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_spread_across_nodes(overlay):
    (constraint,) = deployment(overlay)["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert constraint["topologyKey"] == "kubernetes.io/hostname"
    assert constraint["labelSelector"]["matchLabels"] == {"app": "addtocart-service"}


# --- Around the pods -------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_port_80_to_8000_selects_only_web_pods(overlay):
    service = one(overlay, "Service", "addtocart-service")
    assert service["spec"]["type"] == "ClusterIP"
    (port,) = service["spec"]["ports"]
    assert port["port"] == 80
    assert port["targetPort"] == "http"  # the container's port 8000
    selector = service["spec"]["selector"]
    assert selector == {"app": "addtocart-service"}
    # Nor the webhook workers, whose port 9102 serves only probes and metrics.
    worker_labels = worker(overlay)["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= worker_labels.items()
    # Job pods run without a readiness probe: the Service must never send them requests.
    for job in objects(overlay, "Job") + objects(overlay, "CronJob"):
        template = job["spec"].get("template") or job["spec"]["jobTemplate"]["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert not selector.items() <= labels.items(), job["metadata"]["name"]


@pytest.mark.parametrize(("overlay", "minimum", "maximum"), [("dev", 1, 2), ("prod", 3, 20)])
def test_hpa(overlay, minimum, maximum):
    hpa = one(overlay, "HorizontalPodAutoscaler", "addtocart-service")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "addtocart-service",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (minimum, maximum)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_base_hpa_keeps_three_replicas():
    result = run([tool("kubectl"), "kustomize", str(K8S / "base")])
    assert result.returncode == 0, result.stderr
    (hpa,) = [
        d for d in yaml.safe_load_all(result.stdout) if d["kind"] == "HorizontalPodAutoscaler"
    ]
    assert hpa["spec"]["minReplicas"] == 3


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budget(overlay):
    pdb = one(overlay, "PodDisruptionBudget", "addtocart-service")
    assert pdb["spec"]["selector"]["matchLabels"] == {"app": "addtocart-service"}
    assert pdb["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_admits_the_ingress_controller_and_prometheus_only(overlay):
    policy = one(overlay, "NetworkPolicy", "addtocart-service")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app": "addtocart-service"}
    assert policy["policyTypes"] == ["Ingress"]
    sources = [rule["from"] for rule in policy["ingress"]]
    assert sources == [
        [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
        [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
            }
        ],
    ]
    for rule in policy["ingress"]:
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]


# --- Jobs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_job(overlay):
    job = one(overlay, "Job", "addtocart-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert container["image"] == web_container(overlay)["image"]
    assert set(secret_refs(container)) == JOB_SECRET_KEYS
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Applied first, with its ConfigMap, by `kubectl apply -k ... -l addtocart/deploy-step=migrate`.
    step = {
        f"{doc['kind']}/{doc['metadata']['name']}"
        for doc in render(overlay)
        if doc["metadata"].get("labels", {}).get("addtocart/deploy-step") == "migrate"
    }
    assert step == {f"ConfigMap/{configmap(overlay)['metadata']['name']}", "Job/addtocart-migrate"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_cronjobs(overlay):
    crons = {doc["metadata"]["name"]: doc for doc in objects(overlay, "CronJob")}
    assert set(crons) == set(CRONJOBS)
    for name, (schedule, arguments) in CRONJOBS.items():
        spec = crons[name]["spec"]
        assert spec["schedule"] == schedule, name
        assert spec["concurrencyPolicy"] == "Forbid", name
        (container,) = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "manage.py", *arguments], name
        assert container["image"] == web_container(overlay)["image"], name
        assert set(secret_refs(container)) == JOB_SECRET_KEYS, name
        command = ROOT / "carts" / "management" / "commands" / f"{arguments[0]}.py"
        assert command.exists(), command
        # The web pods' settings (the payment and product services' URLs among them).
        assert container["envFrom"] == web_container(overlay)["envFrom"], name
        assert container["resources"]["limits"]["memory"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sweeper_runs_every_minute_without_piling_up(overlay):
    """docs/operations.md, "8. Checkouts and the sweeper": one run at a time, a late run
    skipped rather than run after the next one is due, a stuck run stopped."""
    spec = one(overlay, "CronJob", SWEEPER)["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] < 60
    job = spec["jobTemplate"]["spec"]
    assert 60 <= job["activeDeadlineSeconds"] <= 600
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["successfulJobsHistoryLimit"] >= 1  # its last summary line, for kubectl logs


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sweeper_runs_with_its_pods_environment(overlay, tmp_path):
    """The sweeper's container, with the environment the kubelet gives it, releases a
    checkout left expired, and logs what it did as the runbook says."""
    attempt = expired_checkout(quantity=2, stock_left=8)
    (container,) = one(overlay, "CronJob", SWEEPER)["spec"]["jobTemplate"]["spec"]["template"][
        "spec"
    ]["containers"]
    secrets = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": "",
        "DJANGO_SECRET_KEY": "test-secret",
        "JWT_SIGNING_KEY": "test-jwt",
    }
    env = container_env(container, configmap(overlay)["data"], secrets, "10.1.2.3")
    env.update(PATH=os.environ["PATH"], PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    python, *arguments = container["command"]
    assert python == "python"
    done = subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert_released(attempt, stock=10)
    lines = done.stdout.splitlines()
    summary = (
        "expired checkouts: {'released': 1}; unknown payments settled: none; sales reported: 0"
    )
    assert summary in lines
    records = [json.loads(line) for line in lines if line.startswith("{")]
    (logged,) = [record for record in records if record["logger"] == "carts.sweeper"]
    assert logged["level"] == "WARNING"
    assert logged["message"] == f"Checkout sweeper: {summary}"


# --- The webhook delivery worker -------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_webhook_worker_runs_beside_the_web_pods_with_their_settings(overlay):
    spec = worker(overlay)["spec"]
    assert spec["replicas"] >= 2  # several at once: each claims with SKIP LOCKED
    assert spec["selector"]["matchLabels"] == {"app": WORKER}
    template = spec["template"]
    assert template["metadata"]["labels"]["app"] == WORKER
    # Scraped with the health token by a job of its own, never by annotation.
    assert template["metadata"]["annotations"] == {"prometheus.io/scrape": "false"}
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    container = worker_container(overlay)
    assert container["command"] == ["python", "manage.py", "deliver_webhooks"]
    assert (ROOT / "events" / "management" / "commands" / "deliver_webhooks.py").exists()
    assert container["image"] == web_container(overlay)["image"]
    assert container["envFrom"] == web_container(overlay)["envFrom"]
    # The web pods' secrets, HEALTH_TOKEN for its /metrics among them.
    assert secret_refs(container) == secret_refs(web_container(overlay))
    assert set(secret_refs(container)) == SECRET_KEYS
    resources = container["resources"]
    assert resources["requests"]["cpu"]
    assert resources["requests"]["memory"]
    assert resources["limits"]["memory"]
    (constraint,) = template["spec"]["topologySpreadConstraints"]
    assert constraint["labelSelector"]["matchLabels"] == {"app": WORKER}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_webhook_workers_probes_ask_its_own_port(overlay):
    container = worker_container(overlay)
    (port,) = container["ports"]
    assert port == {"name": "metrics", "containerPort": 9102, "protocol": "TCP"}
    # The worker serves on WEBHOOK_WORKER_PORT: the ConfigMap's must be the container's.
    assert int(configmap(overlay)["data"]["WEBHOOK_WORKER_PORT"]) == port["containerPort"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, probe
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 30


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_webhook_worker_finishes_its_batch_before_it_is_killed(overlay):
    """SIGTERM lets the round under way finish: one send per thread, each of at most
    WEBHOOK_TIMEOUT_SECONDS. The kubelet must wait that long and a margin before its SIGKILL."""
    from events.management.commands.deliver_webhooks import Command

    _, manage, name, *arguments = worker_container(overlay)["command"]
    Command().create_parser(manage, name).parse_args(arguments)  # the pod's arguments parse
    timeout = int(configmap(overlay)["data"]["WEBHOOK_TIMEOUT_SECONDS"])
    grace = worker(overlay)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= timeout + 15, (timeout, grace)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_webhook_worker_disruption_budget_keeps_one_sending(overlay):
    pdb = one(overlay, "PodDisruptionBudget", WORKER)
    assert pdb["spec"]["selector"]["matchLabels"] == {"app": WORKER}
    assert pdb["spec"]["minAvailable"] == 1
    assert worker(overlay)["spec"]["replicas"] > 1  # else no drain could ever evict it


def egress_allowed(policy: dict, address: str, port: int, protocol: str = "TCP") -> bool:
    """NetworkPolicy's rule: traffic is allowed when some egress rule matches both its
    destination (`to` absent: anywhere) and its port (`ports` absent: any). Only ipBlock
    peers are judged: the others select pods, not addresses."""
    ip = ipaddress.ip_address(address)

    def peer_matches(peer: dict) -> bool:
        block = peer.get("ipBlock")
        if block is None or ip not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(ip in ipaddress.ip_network(cidr) for cidr in block.get("except", []))

    for rule in policy["egress"]:
        ports = rule.get("ports")
        if ports is not None and not any(
            entry["port"] == port and entry.get("protocol", "TCP") == protocol for entry in ports
        ):
            continue
        if "to" not in rule or any(peer_matches(peer) for peer in rule["to"]):
            return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_webhook_workers_reach_receivers_over_https_and_nothing_inside(overlay):
    policy = one(overlay, "NetworkPolicy", WORKER)["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app": WORKER}
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    # In: Prometheus only, on the metrics port (the kubelet's probes are not subject to it).
    (rule,) = policy["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    # Out: receivers over https on public addresses; DNS; PostgreSQL, PgBouncer and Redis.
    for address, port, allowed in [
        ("93.184.215.14", 443, True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", 443, True),
        ("93.184.215.14", 80, False),  # https only
        ("93.184.215.14", 8443, False),
        ("169.254.169.254", 443, False),  # the cloud metadata service
        ("169.254.169.254", 80, False),
        ("10.0.0.12", 443, False),  # the cluster and the private network
        ("172.20.1.1", 443, False),
        ("192.168.1.10", 443, False),
        ("100.64.0.1", 443, False),
        ("127.0.0.1", 443, False),
        ("fd00::1", 443, False),
        ("fe80::1", 443, False),
        ("10.0.0.12", 5432, True),
        ("10.0.0.12", 6432, True),
        ("10.0.0.12", 6379, True),
        ("10.96.0.10", 53, True),
        ("10.0.0.12", 8000, False),  # not even the web pods
    ]:
        assert egress_allowed(policy, address, port) is allowed, (address, port)
    assert egress_allowed(policy, "10.96.0.10", 53, "UDP")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_finds_the_webhook_workers_and_sends_the_health_token(overlay):
    job, web_job = scrape_job(WORKER), scrape_job("addtocart-service")
    (keep,) = [rule for rule in job["relabel_configs"] if rule.get("action") == "keep"]
    assert keep["source_labels"] == [
        "__meta_kubernetes_pod_label_app",
        "__meta_kubernetes_pod_container_port_name",
    ]
    template = worker(overlay)["spec"]["template"]
    (port,) = worker_container(overlay)["ports"]
    assert re.fullmatch(keep["regex"], f"{template['metadata']['labels']['app']};{port['name']}")
    assert not re.fullmatch(keep["regex"], "addtocart-service;http")
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"] == web_job["authorization"]  # the same token, from its file
    assert job["relabel_configs"][1:] == web_job["relabel_configs"][1:]  # app, namespace, pod


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_webhook_worker_runs_with_its_pods_environment(overlay, tmp_path):
    """The worker's container, with the environment the kubelet gives it, answers its probe,
    shows its metrics to the health token only, refuses to send a webhook to a loopback
    address (the ConfigMap allows https to public addresses only) and counts that, and stops
    cleanly on SIGTERM within its grace period."""
    from events.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
    from events.outbox import event_record
    from events.webhooks import webhook_endpoint_create

    container = worker_container(overlay)
    secrets = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": "",
        "DJANGO_SECRET_KEY": "test-secret",
        "JWT_SIGNING_KEY": "test-jwt",
        "HEALTH_TOKEN": "test-health-token",
    }
    env = container_env(container, configmap(overlay)["data"], secrets, "10.1.2.3")
    port = free_port()  # the pod's 9102 may be taken on this machine
    env.update(
        PATH=os.environ["PATH"],
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        WEBHOOK_WORKER_PORT=str(port),
    )
    python, *arguments = container["command"]
    assert python == "python"
    grace = worker(overlay)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    log = tmp_path / "worker.log"
    with Receiver() as receiver, log.open("w") as output:
        endpoint = webhook_endpoint_create(url=f"{receiver.url}/hooks", events=["*"])
        event_record(type="cart.created", cart_id=uuid.uuid4(), data={"owner": {"user_id": None}})
        process = subprocess.Popen(
            [sys.executable, *arguments], cwd=ROOT, env=env, stdout=output, stderr=output
        )
        try:
            wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/healthz"), what="/healthz")
            wait_for(
                lambda: WebhookAttempt.objects.filter(delivery__endpoint=endpoint).exists(),
                what="the first attempt",
            )
            metrics = f"http://127.0.0.1:{port}/metrics"
            assert requests.get(metrics, timeout=5).status_code == 401
            scrape = requests.get(
                metrics, headers={"Authorization": "Bearer test-health-token"}, timeout=5
            )
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=grace) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    (attempt,) = WebhookAttempt.objects.filter(delivery__endpoint=endpoint)
    assert attempt.error.startswith("refused"), attempt.error
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)  # retried later
    assert scrape.status_code == 200
    assert 'addtocart_webhook_deliveries_total{outcome="retrying"} 1.0' in scrape.text
    exported = set()
    for family in text_string_to_metric_families(scrape.text):
        exported |= {family.name, *(sample.name for sample in family.samples)}
    assert exported >= WORKER_METRICS
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    messages = [record["message"] for record in records]
    assert messages[-1] == "webhook worker stopped", messages
    (failed,) = [record for record in records if record["message"] == "webhook delivery failed"]
    assert (failed["endpoint_id"], failed["outcome"]) == (endpoint.pk, "retrying")


# --- Overlays --------------------------------------------------------------------------------


def test_dev_runs_its_own_postgres_and_redis_with_small_resources():
    statefulsets = {doc["metadata"]["name"]: doc for doc in objects("dev", "StatefulSet")}
    assert set(statefulsets) == {"postgres", "redis"}
    for name, statefulset in statefulsets.items():
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        limit = container["resources"]["limits"]["memory"]
        assert limit.endswith("Mi"), name
        assert int(limit.removesuffix("Mi")) <= 512, name
    (redis,) = statefulsets["redis"]["spec"]["template"]["spec"]["containers"]
    command = redis["command"]
    assert command[command.index("--maxmemory") + 1] == "100mb"
    # docs/deployment.md, "Redis": nearly every key we write has a TTL, so volatile-lru would
    # evict rate-limit counters and breaker counts: nothing may be evicted.
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert all(
        doc["metadata"]["namespace"] == "addtocart-dev"
        for doc in render("dev")
        if doc["kind"] != "Namespace"
    )


def test_prod_uses_managed_stores_and_a_released_image():
    assert objects("prod", "StatefulSet") == []
    image = web_container("prod")["image"]
    assert re.fullmatch(r"[\w.-]+/addtocart-service:\d+\.\d+\.\d+", image), image
    assert all(doc["metadata"]["namespace"] == "addtocart" for doc in render("prod"))
