"""The profile's sums (bench/profiling.py): py-spy's samples into the stack's parts."""

import pytest

from bench import profiling

ROOT = str(profiling.ROOT)
SITE = "/venv/lib/python3.11/site-packages"
OTHER = "other middleware"
WORKER = [
    f"run (/{SITE}/gunicorn/arbiter.py:10)",
    f"SyncWorker.run_for_one ({SITE}/gunicorn/workers/sync.py:70)",
    f"SyncWorker.accept ({SITE}/gunicorn/workers/sync.py:30)",
    f"SyncWorker.handle ({SITE}/gunicorn/workers/sync.py:141)",
    f"SyncWorker.handle_request ({SITE}/gunicorn/workers/sync.py:180)",
    f"WSGIHandler.__call__ ({SITE}/django/core/handlers/wsgi.py:124)",
    f"RequestContextMiddleware.__call__ ({ROOT}/addtocart/observability/middleware.py:70)",
    f"convert_exception_to_response.<locals>.inner ({SITE}/django/core/handlers/exception.py:55)",
    f"APIView.dispatch ({SITE}/rest_framework/views.py:500)",
]


def line(*frames: str, count: int = 1) -> str:
    return ";".join(frames) + f" {count}"


@pytest.mark.parametrize(
    ("frame", "part"),
    [
        (f"decode ({SITE}/jwt/api_jws.py:10)", "authentication"),
        (f"APIView.perform_authentication ({SITE}/rest_framework/views.py:1)", "authentication"),
        (f"APIView.check_throttles ({SITE}/rest_framework/views.py:1)", "throttling"),
        (f"UserRateThrottle.allow_request ({ROOT}/addtocart/api/throttling.py:1)", "throttling"),
        (f"Histogram.observe ({SITE}/prometheus_client/metrics.py:1)", "metrics"),
        (f"observe_request ({ROOT}/addtocart/observability/metrics.py:1)", "metrics"),
        ("Logger.info (/usr/lib/python3.11/logging/__init__.py:1)", "logging"),
        (f"Logger.access ({SITE}/gunicorn/glogging.py:1)", "logging"),
        (f"CursorWrapper._execute ({SITE}/django/db/backends/utils.py:1)", "SQL"),
        (f"run ({ROOT}/carts/db/runner.py:1)", "SQL"),
        (f"JSONRenderer.render ({ROOT}/addtocart/api/renderers.py:1)", "rendering"),
        (f"Response.rendered_content ({SITE}/rest_framework/response.py:1)", "rendering"),
        (f"CsrfViewMiddleware.process_view ({SITE}/django/middleware/csrf.py:1)", OTHER),
        (f"SessionMiddleware.process_request ({SITE}/django/contrib/sessions/x.py:1)", OTHER),
        (f"CartView.get ({ROOT}/carts/api/views.py:1)", "view"),
        (f"get_resolver ({SITE}/django/urls/resolvers.py:1)", "Django & DRF"),
        (f"Response.send_headers ({SITE}/gunicorn/http/wsgi.py:1)", "gunicorn"),
        (f"QueryCountMiddleware.__call__ ({ROOT}/bench/middleware.py:1)", "benchmark"),
        ("uuid4 (/usr/lib/python3.11/uuid.py:1)", None),
    ],
)
def test_each_frame_belongs_to_its_part(frame, part):
    assert profiling.part_of(*profiling.frame_of(frame)) == part


def test_a_sample_goes_to_the_innermost_frame_with_a_part():
    text = "\n".join(
        [
            # PyJWT under the authentication class: authentication.
            line(
                *WORKER,
                f"APIView.perform_authentication ({SITE}/rest_framework/views.py:1)",
                f"decode ({SITE}/jwt/api_jws.py:10)",
                "loads (/usr/lib/python3.11/json/__init__.py:1)",
                count=3,
            ),
            # The view's SQL: SQL; the view's own code: view.
            line(
                *WORKER,
                f"CartView.get ({ROOT}/carts/api/views.py:1)",
                f"CursorWrapper._execute ({SITE}/django/db/backends/utils.py:1)",
                count=5,
            ),
            line(*WORKER, f"CartView.get ({ROOT}/carts/api/views.py:1)", count=2),
            # uuid4 in the request-context middleware: logging (the request id).
            line(*WORKER[:7], "uuid4 (/usr/lib/python3.11/uuid.py:1)", count=1),
            # Waiting for the next connection: not a request.
            line(*WORKER[:2], f"SyncWorker.wait ({SITE}/gunicorn/workers/sync.py:35)", count=9),
        ]
    )
    counts = profiling.breakdown(profiling.samples(text))

    assert counts["authentication"] == 3
    assert counts["SQL"] == 5
    assert counts["view"] == 2
    assert counts["logging"] == 1
    assert counts["between requests"] == 9
    assert sum(counts.values()) == 20


def test_times_per_request_come_from_the_shares_and_the_request_rate():
    counts = dict.fromkeys(profiling.ORDER, 0) | {"unattributed": 0}
    counts |= {"SQL": 30, "authentication": 10, "view": 10, "between requests": 50}
    ms = profiling.per_request_ms(counts, requests_per_second=250)  # one every 4 ms

    assert ms["SQL"] == 1.2
    assert ms["authentication"] == 0.4
    assert ms["rest"] == 0.4  # the view
    assert ms["total"] == 2.0
    assert ms["busy"] == 0.5
