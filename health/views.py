"""Health endpoints for probes and on-call engineers (docs/operations.md, "Health and metrics").

Anyone gets each endpoint's status, with the HTTP status a probe reads (200 or 503), and
nothing more: no versions, sizes, counts or names of the services behind it. The health
token's holders and staff sessions (health/access.py) get every detail; `detailed` and
`metrics` are theirs alone.
"""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from health import checks
from health.access import internals, may_see_internals


def _answer(request, body: dict, healthy: bool) -> JsonResponse:
    if not may_see_internals(request):
        body = {"status": body["status"]}
    return JsonResponse(body, status=200 if healthy else 503)


def probe(view):
    return never_cache(require_GET(view))


@probe
def health(request):
    """Cheap: answers while the process serves, calls no dependency."""
    body = {"status": "ok", "service": "addtocart", "version": settings.SERVICE_VERSION}
    return _answer(request, body, True)


@probe
def live(request):
    """Liveness: never checks dependencies, so a dead database restarts no pod."""
    return JsonResponse({"status": "ok"})


@probe
def ready(request):
    """Readiness: the database answers and every migration is applied. Redis does not count."""
    result = checks.ready()
    return _answer(request, result, result["status"] == "ok")


@probe
def database(request):
    result = checks.database()
    return _answer(request, result, result["status"] == "up")


@probe
def redis(request):
    result = checks.redis()
    return _answer(request, result, result["status"] != "down")


@probe
def external(request):
    services = checks.external()
    healthy = all(s["status"] != "down" for s in services.values())
    body = {"status": "ok" if healthy else "degraded", "services": services}
    return _answer(request, body, healthy)


@probe
@internals
def detailed(request):
    db, cache, services = checks.database(), checks.redis(), checks.external()
    status = checks.overall(db, cache, services)
    body = {
        "status": status,
        **checks.service_info(),
        "checks": {"database": db, "redis": cache, "external": services},
    }
    return JsonResponse(body, status=200 if status != "down" else 503)


@probe
@internals
def metrics(request):
    return JsonResponse(checks.process_metrics())
