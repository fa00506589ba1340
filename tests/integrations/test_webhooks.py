"""Webhook signatures, deliveries to a real receiver, and the retry schedule
(integrations/webhooks.py). Safe targets are in test_webhook_targets.py."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from standardwebhooks import Webhook, WebhookVerificationError

from integrations.webhooks import (
    WebhookResult,
    webhook_headers,
    webhook_retry_delay,
    webhook_retry_schedule,
    webhook_secret_new,
    webhook_send,
)

DEFAULT_SCHEDULE = [
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
]


def signed(body: bytes, *secrets: str, message_id: str = "evt_1") -> dict[str, str]:
    return webhook_headers(
        secrets=list(secrets), message_id=message_id, timestamp=int(time.time()), body=body
    )


# Secrets and signatures ---------------------------------------------------------------------


def test_a_new_secret_is_whsec_and_the_base64_of_32_random_bytes():
    secrets = {webhook_secret_new() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_the_signature_matches_the_specification_s_example():
    """The example of the Standard Webhooks reference implementations, computed by hand here
    too: HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the decoded secret."""
    secret, body = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b'{"test": 2432232314}'
    headers = webhook_headers(
        secrets=[secret], message_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    mac = hmac.new(key, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + body, hashlib.sha256)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac.digest()).decode()
    assert headers["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek"
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("AddToCart-Webhooks/")


def test_a_receiver_verifies_a_delivery_with_the_standardwebhooks_library(
    private_allowed, receiver
):
    body = json.dumps({"type": "cart.updated", "data": {"total": "1.00"}}).encode()
    secret = webhook_secret_new()
    result = webhook_send(
        url=receiver.url + "/hook", body=body, headers=signed(body, secret), timeout=5
    )
    assert result.ok, result
    (request,) = receiver.requests
    assert request["body"] == body
    assert Webhook(secret).verify(request["body"], request["headers"]) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secret_new()).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):  # the body as signed, not another
        Webhook(secret).verify(body + b" ", request["headers"])


def test_two_secrets_give_two_signatures_each_verified_by_a_receiver(private_allowed, receiver):
    """After a rotation both the old and the new secret sign: a receiver with either accepts."""
    old, new, body = webhook_secret_new(), webhook_secret_new(), b'{"id": 1}'
    assert webhook_send(url=receiver.url, body=body, headers=signed(body, new, old), timeout=5).ok
    (request,) = receiver.requests
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(request["body"], request["headers"]) == {"id": 1}


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_" + base64.b64encode(b"short").decode(),  # under 24 bytes
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!aSw",  # not base64
        "whsec_",
    ],
)
def test_a_malformed_secret_is_refused_rather_than_signing_with_another_key(secret):
    with pytest.raises(ValueError, match="Standard Webhooks secret"):
        webhook_headers(secrets=[secret], message_id="evt_1", timestamp=1, body=b"{}")


def test_signing_needs_a_secret():
    with pytest.raises(ValueError, match="at least one secret"):
        webhook_headers(secrets=[], message_id="evt_1", timestamp=1, body=b"{}")


# Deliveries ----------------------------------------------------------------------------------


def test_a_2xx_is_a_success_with_its_status_and_duration(private_allowed, receiver):
    result = webhook_send(url=receiver.url + "/status/204", body=b"{}", headers={}, timeout=5)
    assert (result.status, result.error, result.ok) == (204, "", True)
    assert 0 < result.duration_ms < 5000
    (request,) = receiver.requests
    assert request["headers"]["Host"] == f"127.0.0.1:{receiver.port}"


@pytest.mark.parametrize(("status", "error"), [(500, "HTTP 500"), (404, "HTTP 404")])
def test_another_status_is_a_failure(private_allowed, receiver, status, error):
    result = webhook_send(url=f"{receiver.url}/status/{status}", body=b"{}", headers={}, timeout=5)
    assert (result.status, result.error, result.ok) == (status, error, False)


def test_a_redirect_is_not_followed(private_allowed, receiver):
    result = webhook_send(url=receiver.url + "/redirect", body=b"{}", headers={}, timeout=5)
    assert (result.status, result.ok) == (302, False)
    assert result.error == "redirect not followed (HTTP 302)"
    assert [request["path"] for request in receiver.requests] == ["/redirect"]


def test_an_endless_answer_is_read_up_to_the_limit_then_dropped(
    private_allowed, receiver, settings
):
    """Reading it all would take until the timeout: the delivery ends long before."""
    settings.WEBHOOK_MAX_RESPONSE_BYTES = 1024
    result = webhook_send(url=receiver.url + "/endless", body=b"{}", headers={}, timeout=3)
    assert (result.status, result.error, result.ok) == (200, "", True)
    assert result.duration_ms < 1500, result
    time.sleep(0.2)
    assert receiver.endless_bytes_sent < 64 * 1024 * 1024  # it stopped: the client hung up


def test_a_receiver_that_never_answers_times_out(private_allowed, receiver):
    result = webhook_send(url=receiver.url + "/hang", body=b"{}", headers={}, timeout=0.5)
    assert (result.status, result.error, result.ok) == (None, "timeout after 0.5 s", False)
    assert 450 < result.duration_ms < 1000, result


def test_a_slow_drip_receiver_is_cut_off_at_the_timeout(private_allowed, receiver):
    """A header line every 0.1 s never trips a per-read timeout; the deadline ends it."""
    result = webhook_send(url=receiver.url + "/drip", body=b"{}", headers={}, timeout=1)
    assert (result.status, result.error, result.ok) == (None, "timeout after 1 s", False)
    assert 950 < result.duration_ms < 1500, result


def test_a_closed_port_is_a_connection_failure(private_allowed, receiver):
    url = receiver.url
    receiver.stop()
    result = webhook_send(url=url, body=b"{}", headers={}, timeout=2)
    assert (result.status, result.error, result.ok) == (None, "connection refused", False)


def test_the_result_is_ok_only_for_a_2xx_without_an_error():
    assert WebhookResult(status=200, duration_ms=1.0, error="").ok
    assert not WebhookResult(status=302, duration_ms=1.0, error="redirect").ok
    assert not WebhookResult(status=None, duration_ms=1.0, error="timeout").ok
    with pytest.raises(AttributeError):
        WebhookResult(status=200, duration_ms=1.0, error="").ok = False


# Retries -------------------------------------------------------------------------------------


def test_the_default_schedule_is_parsed_at_start_up():
    assert django_settings.WEBHOOK_RETRY_SCHEDULE == DEFAULT_SCHEDULE
    assert webhook_retry_schedule(" 5s, 30s ,2m,10m,1h,6h,24h") == DEFAULT_SCHEDULE
    assert webhook_retry_schedule("1d") == [timedelta(days=1)]


@pytest.mark.parametrize("value", ["", "5", "5x", "0s", "-5s", "5s,,30s", "1.5m", "31d", "5 s s"])
def test_a_malformed_schedule_is_a_clear_configuration_error(value):
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_RETRY_SCHEDULE"):
        webhook_retry_schedule(value)


def test_a_malformed_schedule_stops_the_service_at_start():
    env = {**os.environ, "WEBHOOK_RETRY_SCHEDULE": "5s,soon"}
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parents[2],
        env={**env, "DJANGO_SETTINGS_MODULE": "addtocart.settings"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode != 0
    assert "WEBHOOK_RETRY_SCHEDULE must be delays above 0" in started.stderr
    assert "'5s,soon'" in started.stderr


def test_each_retry_waits_its_scheduled_delay_within_20_percent():
    delays = [webhook_retry_delay(attempt=1, schedule=DEFAULT_SCHEDULE) for _ in range(300)]
    assert all(timedelta(seconds=4) <= d <= timedelta(seconds=6) for d in delays)
    assert min(delays) < timedelta(seconds=4.5)
    assert max(delays) > timedelta(seconds=5.5)
    last = webhook_retry_delay(attempt=7, schedule=DEFAULT_SCHEDULE)
    assert timedelta(hours=19.2) <= last <= timedelta(hours=28.8)


def test_there_is_no_retry_after_the_last_attempt():
    assert webhook_retry_delay(attempt=8, schedule=DEFAULT_SCHEDULE) is None
    assert webhook_retry_delay(attempt=2, schedule=[timedelta(seconds=1)]) is None
    with pytest.raises(ValueError, match="from 1"):
        webhook_retry_delay(attempt=0, schedule=DEFAULT_SCHEDULE)
