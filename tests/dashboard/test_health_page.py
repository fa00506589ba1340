"""The health page's figures: a peak memory never below the current memory, and no circuit
breaker state for a service this instance does not call."""

import re
import sys
from types import SimpleNamespace

import pytest

from dashboard.health import BAD, OFF, OK, health_snapshot, snapshot_json
from health import checks
from tests.live import free_port

UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def in_bytes(text: str) -> float:
    number, unit = re.fullmatch(r"([\d,.]+) (\w+)", text).groups()
    return float(number.replace(",", "")) * UNITS[unit]


def test_the_peak_memory_is_never_below_the_current_memory():
    """Read right after the process grows, when a peak taken from another source than the
    current size (getrusage's ru_maxrss against /proc's RSS) lags behind it."""
    held = []
    for _ in range(20):
        held.append(bytearray(4 * 2**20))  # touched pages: the resident size grows
        figures = checks.process_metrics()
        assert figures["rss_bytes"] > 0
        assert figures["max_rss_bytes"] >= figures["rss_bytes"], figures


def test_without_proc_the_peak_is_getrusages_in_bytes(monkeypatch):
    def no_proc(path, *args, **kwargs):
        raise FileNotFoundError(path)

    usage = SimpleNamespace(ru_maxrss=51_200, ru_utime=1.5, ru_stime=0.5)
    monkeypatch.setattr(checks, "open", no_proc, raising=False)
    monkeypatch.setattr(checks.resource, "getrusage", lambda who: usage)
    figures = checks.process_metrics()
    assert figures["rss_bytes"] is None
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    assert figures["max_rss_bytes"] == 51_200 * (1 if sys.platform == "darwin" else 1024)


@pytest.mark.django_db
def test_the_page_shows_a_peak_memory_at_least_the_current_memory():
    held = [bytearray(8 * 2**20)]  # noqa: F841 (grown just before the page is read)
    readings = snapshot_json(health_snapshot())["readings"]
    current, peak = readings["process.memory"]["text"], readings["process.peak_memory"]["text"]
    assert in_bytes(peak) >= in_bytes(current), (current, peak)


@pytest.mark.django_db
def test_a_service_not_configured_shows_no_breaker_state(settings):
    settings.PRODUCT_SERVICE_URL = settings.AUTH_SERVICE_URL = ""
    settings.PAYMENT_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # configured, not answering
    readings = snapshot_json(health_snapshot())["readings"]
    for service in ("product", "auth"):
        assert readings[f"{service}.status"] == {"text": "Not configured", "state": OFF}
        assert readings[f"{service}.breaker"] == {"text": "Not configured", "state": OFF}
    assert readings["payment.status"] == {"text": "Down", "state": BAD}
    assert readings["payment.breaker"] == {"text": "Closed", "state": OK}  # not yet tripped
