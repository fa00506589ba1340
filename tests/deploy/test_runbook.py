"""The runbook, docs/operations.md, is true: its commands run and the names it uses exist.

Its fenced bash blocks are read command by command (a trailing backslash continues a line):
- `curl` commands run against a local gunicorn (http://localhost:8000 rewritten to it), and
  must exit 0 and answer 2xx, or the status their trailing comment starts with (`# 401 ...`);
- `python manage.py ...` commands run here with the service's settings; a
  `kubectl exec deploy/addtocart-service --` prefix is dropped. Interactive ones (`dbshell`,
  `shell` without `-c`) are not run;
- `redis-cli -u "$REDIS_URL" ...` commands run against the service's (private) Redis;
- `kubectl logs ... | ...` pipelines run on the service's own log lines instead;
- anything else must be cluster-only (`kubectl ...`) or a backup step that test_backup.py
  covers (`make backup`, `make restore`, `createdb`).
Then every endpoint path, metric, log field, setting and alert the runbook names is looked up
in the URL configuration, a real /metrics scrape, real log lines, the code and the alert rules.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.urls import Resolver404, resolve
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import ProductFactory
from tests.live import ROOT, JsonService, gunicorn, private_redis
from tests.test_layout import SERVICE_PACKAGES

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RUNBOOK = ROOT / "docs" / "operations.md"
LOCAL_URL = "http://localhost:8000"
KUBECTL_EXEC = re.compile(r"^kubectl exec (?:-i )?deploy/addtocart-service -- ")
MANAGE = re.compile(r"^(?:env (?:\w+=\S+ )+)?python manage\.py (\w+)")
INTERACTIVE = {"dbshell", "createsuperuser", "changepassword"}
REDIS = re.compile(r'^redis-cli -u "\$REDIS_URL" ')
LOGS = re.compile(r"^kubectl logs [^|]*\|")
CLUSTER_ONLY = re.compile(
    r'^(?:kubectl |export \w+="\$\(kubectl |createdb |DATABASE_URL=\S+ make (?:backup|restore)\b)'
)
# Before each command: curl records the headers of its answer, for the status.
PRELUDE = 'set -o pipefail\ncurl() { command curl --dump-header "$RUNBOOK_HEADERS" "$@"; }\n'
PASSWORD = "a long passphrase"  # the runbook's test account, ada


@dataclass
class Command:
    code: str
    comment: str
    line: int

    def __str__(self) -> str:
        return f"docs/operations.md:{self.line}: {self.code}"

    @property
    def expected_status(self) -> int | None:
        match = re.match(r"(\d{3})\b", self.comment)
        return int(match.group(1)) if match else None

    @property
    def expected_code(self) -> str | None:
        """The problem's `code` when the comment names one after the status (`# 401 a_code`)."""
        match = re.match(r"\d{3} ([a-z]+_[a-z_]+)\b", self.comment)
        return match.group(1) if match else None


def split_comment(line: str) -> tuple[str, str]:
    """The command and its trailing comment: a # starting a word outside quotes."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.rstrip(), ""


def runbook_commands() -> list[Command]:
    text = RUNBOOK.read_text()
    commands = []
    for block in re.finditer(r"^```bash\n(.*?)^```", text, re.S | re.M):
        first_line = text.count("\n", 0, block.start(1)) + 1
        pending, start = "", 0
        for number, raw in enumerate(block.group(1).splitlines(), start=first_line):
            if not pending:
                start = number
            if raw.endswith("\\"):
                pending += raw[:-1]
                continue
            code, comment = split_comment((pending + raw).strip())
            pending = ""
            if code:
                commands.append(Command(code, comment, start))
    return commands


def product_service(method: str, path: str, body: object | None) -> tuple[int, object]:
    """A stand-in product service: every SKU is for sale at 10.00 EUR, as ProductFactory's."""
    if not path.startswith("/products/"):
        return 200, {"status": "ok"}
    sku = path.removeprefix("/products/")
    return 200, {
        "sku": sku,
        "name": f"Product {sku}",
        "price": "10.00",
        "currency": "EUR",
        "stock": 100,
        "is_active": True,
    }


def service_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", PRELUDE + script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def last_status(headers: Path) -> int | None:
    statuses = re.findall(r"^HTTP/\S+ (\d{3})", headers.read_text(), re.M)
    return int(statuses[-1]) if statuses else None


def log_records(text: str) -> list[dict]:
    records = []
    for line in text.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def source_text() -> str:
    """Where log messages come from: our code, Django's and gunicorn's."""
    import django
    import gunicorn as gunicorn_package

    files = [
        *(path for package in SERVICE_PACKAGES for path in ROOT.glob(f"{package}/**/*.py")),
        *Path(gunicorn_package.__file__).parent.glob("**/*.py"),
        *Path(django.__file__).parent.glob("core/**/*.py"),
    ]
    return "\n".join(path.read_text() for path in files)


def test_the_runbook_commands_run_against_a_local_service(tmp_path):
    commands = runbook_commands()
    product = ProductFactory()
    health_token = "runbook-health-token-0123456789abcdef"  # 32 characters or more
    with (
        JsonService(product_service) as products,
        private_redis() as redis,
        gunicorn(
            DATABASE_URL=service_database_url(),
            REDIS_URL=redis.url,
            HEALTH_TOKEN=health_token,
            PRODUCT_SERVICE_URL=products.url,
            BUSINESS_METRICS_CACHE_SECONDS="0",
            LOG_LEVEL="info",
            SLOW_QUERY_MS="0",
        ) as service,
    ):
        registered = requests.post(
            f"{service.url}/api/v1/auth/register/",
            json={"username": "ada", "password": PASSWORD},
            timeout=30,
        )
        assert registered.status_code == 201, registered.text
        token = requests.post(
            f"{service.url}/api/v1/auth/token/",
            json={"username": "ada", "password": PASSWORD},
            timeout=30,
        ).json()["access"]
        service_log = tmp_path / "service.log"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "DATABASE_URL": service_database_url(),
            "REDIS_URL": redis.url,
            "PRODUCT_SERVICE_URL": products.url,
            "HEALTH_TOKEN": health_token,
            "TOKEN": token,
            "NEW_PASSWORD": "a new staff passphrase",
            "SERVICE_LOG": str(service_log),
        }
        ran: dict[str, list[Command]] = {"curl": [], "manage": [], "redis": [], "logs": []}
        failures: list[str] = []

        def check_curl(command: Command) -> None:
            headers = Path(tempfile.mkstemp(dir=tmp_path, suffix=".headers")[1])
            script = command.code.replace(LOCAL_URL, service.url)
            done = run(script, {**env, "RUNBOOK_HEADERS": str(headers)})
            status, expected = last_status(headers), command.expected_status
            ok = expected == status if expected else status is not None and status < 300
            if ok and command.expected_code:
                ok = f'"code":"{command.expected_code}"' in done.stdout.replace(" ", "")
            if done.returncode != 0 or not ok:
                failures.append(
                    f"{command}\n  exit {done.returncode}, HTTP {status}: {done.stdout[:500]}"
                    f"{done.stderr}"
                )

        def check_manage(command: Command) -> None:
            done = run(KUBECTL_EXEC.sub("", command.code), env)
            if done.returncode != 0:
                failures.append(f"{command}\n  exit {done.returncode}: {done.stderr[-2000:]}")

        def check_redis(command: Command) -> None:
            done = run(command.code, env)
            # redis-cli exits 0 after an error reply: look at what it printed too.
            if done.returncode != 0 or re.search(r"^(ERR|\(error\))", done.stdout, re.M):
                failures.append(f"{command}\n  exit {done.returncode}: {done.stdout}{done.stderr}")

        manage_commands = []
        for command in commands:
            local = KUBECTL_EXEC.sub("", command.code)
            manage = MANAGE.match(local)
            if command.code.startswith("curl "):
                ran["curl"].append(command)
                check_curl(command)
            elif manage and "-it" not in command.code.split():
                interactive = manage.group(1) in INTERACTIVE or local.endswith("manage.py shell")
                if interactive:
                    continue
                ran["manage"].append(command)
                manage_commands.append(command)
            elif REDIS.match(command.code):
                ran["redis"].append(command)
                check_redis(command)
            elif LOGS.match(command.code):
                ran["logs"].append(command)
            else:
                assert CLUSTER_ONLY.match(command.code), f"not checked, not cluster-only: {command}"
        with ThreadPoolExecutor(3) as pool:  # each one starts Django: a few seconds
            list(pool.map(check_manage, manage_commands))

        # The metrics the runbook names need some traffic: a guest adds and checks out.
        session = requests.Session()
        added = session.post(
            f"{service.url}/api/v1/cart/items/", json={"product_id": product.pk}, timeout=30
        )
        assert added.status_code == 201, added.text
        session.headers["X-Session-ID"] = added.headers["X-Session-ID"]
        assert session.post(f"{service.url}/api/v1/cart/checkout/", timeout=30).status_code == 200
        scrape = requests.get(
            f"{service.url}/metrics",
            headers={"Authorization": f"Bearer {health_token}"},
            timeout=30,
        ).text

        # The log pipelines read what the service really logged.
        service_log.write_text(service.output())
        for command in ran["logs"]:
            script = re.sub(r"^kubectl logs [^|]*\|", 'cat "$SERVICE_LOG" |', command.code)
            done = run(script, env)
            if done.returncode not in (0, 1):  # 1: grep found nothing, which is fine
                failures.append(f"{command}\n  exit {done.returncode}: {done.stderr}")

    assert not failures, "\n".join(failures)
    counts = {kind: len(done) for kind, done in ran.items()}
    print("runbook commands run:", counts)
    assert counts["curl"] >= 20
    assert counts["manage"] >= 10
    assert counts["redis"] >= 4
    assert counts["logs"] >= 10

    text = RUNBOOK.read_text()
    check_metrics(text, scrape)
    check_log_fields(text, ran["logs"], log_records(service_log.read_text()))


def check_metrics(text: str, scrape: str) -> None:
    exposed = set()
    for family in text_string_to_metric_families(scrape):
        exposed.add(family.name)
        exposed.update(sample.name for sample in family.samples)
    named = set(re.findall(r"`((?:addtocart|http)_[a-z0-9_]+)`", text))
    assert len(named) >= 15
    missing = named - exposed
    assert not missing, f"metrics in the runbook that /metrics does not export: {missing}"


def check_log_fields(text: str, pipelines: list[Command], records: list[dict]) -> None:
    keys = {key for record in records for key in record}
    messages = {record.get("message") for record in records}
    fields = set()
    for command in pipelines:
        for jq in re.findall(r"jq -cR '([^']*)'", command.code):
            fields |= set(re.findall(r"\.([a-z_]+)", jq))
    assert {"status", "duration_ms", "request_id", "username"} <= fields
    missing = fields - keys
    assert not missing, f"log fields the runbook's jq filters read that no log line has: {missing}"
    named = set(re.findall(r"`([a-z_]+)`", section(text, "Logs")))
    # A name this run's lines do not show (a 500's `exc_info`, the route `unmatched`) must
    # still be a field or value the logging code writes.
    writers = "\n".join(path.read_text() for path in logging_sources())
    unknown = {
        name
        for name in named
        if name not in keys and name not in messages and f'"{name}"' not in writers
    }
    assert not unknown, f"log fields the runbook names that no log line has: {unknown}"


def section(text: str, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.M)
    assert match, f"the runbook has no section {heading!r}"
    level = len(match.group(1))
    end = re.search(rf"^#{{1,{level}}} ", text[match.end() :], re.M)
    return text[match.end() : match.end() + end.start() if end else len(text)]


def logging_sources() -> list[Path]:
    """The code that writes log lines: ours and the JSON formatter's."""
    import pythonjsonlogger

    return [*ROOT.glob("addtocart/**/*.py"), *Path(pythonjsonlogger.__file__).parent.glob("*.py")]


def test_the_log_messages_the_runbook_greps_for_are_logged_somewhere():
    source = source_text()
    patterns = []
    for command in runbook_commands():
        if LOGS.match(command.code):
            patterns += re.findall(r"\| grep (?:-E )?[\"']([^\"']+)[\"']", command.code)
    checked = 0
    for pattern in patterns:
        if re.search(r"[()\[\]^$\\{}]", pattern):
            continue  # a regular expression with groups: run by the first test
        for alternative in pattern.split("|"):
            for piece in alternative.split(".*"):
                checked += 1
                assert piece.strip() in source, f"grep {pattern!r}: {piece!r} is never logged"
    assert checked >= 10


def test_every_path_the_runbook_names_exists():
    paths = set(
        re.findall(r"(/api/v1/[A-Za-z0-9_./{}<>-]*|/dashboard/[a-z/]*)", RUNBOOK.read_text())
    )
    assert len(paths) >= 12
    for path in sorted(paths):
        path = re.sub(r"\{[^}]+\}|<[^>]+>", "1", path.rstrip("."))
        try:
            resolve(path)
        except Resolver404:
            pytest.fail(f"{path} is in the runbook but no URL pattern matches it")


def test_every_setting_the_runbook_names_exists():
    sources = [
        ROOT / "addtocart" / "settings.py",
        ROOT / "addtocart" / "gunicorn.conf.py",
        ROOT / ".env.example",
        ROOT / "Makefile",
        *ROOT.glob("scripts/*.sh"),
        *ROOT.glob("*/management/commands/*.py"),
        *ROOT.glob("deploy/k8s/**/*.yaml"),
        *ROOT.glob("deploy/k8s/**/*.env"),
    ]
    known = "\n".join(path.read_text() for path in sources)
    named = set(re.findall(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`", RUNBOOK.read_text()))
    assert {"WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "JWT_SIGNING_KEY", "THROTTLE_ANON"} <= named
    missing = {name for name in named if name not in known}
    assert not missing, f"settings in the runbook that nothing reads: {missing}"


def test_the_runbooks_alerts_are_the_rules_alerts():
    rules = "\n".join(path.read_text() for path in (ROOT / "deploy" / "prometheus").glob("*.yml"))
    defined = set(re.findall(r"^\s*- alert: (\w+)", rules, re.M))
    if not defined:
        pytest.skip("no alert rules in deploy/prometheus yet")
    named = set(re.findall(r"`((?:High|AddToCart)[A-Z]\w+)`", RUNBOOK.read_text()))
    assert named - defined == set(), "alerts in the runbook that the rules do not define"
    assert defined - named == set(), "alerts the rules define that the runbook does not cover"


def test_the_runbook_commands_are_found():
    """A control for the parser: continuations, comments and quotes."""
    commands = {command.code: command for command in runbook_commands()}
    unauthorised = f"curl -s '{LOCAL_URL}/api/v1/health/detailed'"
    assert commands[unauthorised].expected_status == 401
    assert commands[unauthorised].expected_code is None
    codes = {command.expected_code for command in commands.values()}
    assert {"token_not_valid", "no_active_account"} <= codes
    assert split_comment("sed -E 's#a#b#' # 200 ok") == ("sed -E 's#a#b#'", "200 ok")
    assert any(code.startswith("kubectl patch secret addtocart-secrets") for code in commands)
