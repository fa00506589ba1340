"""Health endpoints for probes and on-call engineers (docs/operations.md, "Health and metrics")."""

import secrets

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from addtocart.api.problems import PROBLEM_CONTENT_TYPE, problem_body
from health import checks


def _answer(body: dict, healthy: bool) -> JsonResponse:
    return JsonResponse(body, status=200 if healthy else 503)


def _may_see_internals(request) -> bool:
    """With HEALTH_TOKEN set, internals need `Authorization: Bearer <token>` or a staff session."""
    if not settings.HEALTH_TOKEN:
        return True
    if getattr(request, "user", None) is not None and request.user.is_staff:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        token.strip().encode(), settings.HEALTH_TOKEN.encode()
    )


def internals(view):
    def guarded(request, *args, **kwargs):
        if not _may_see_internals(request):
            return JsonResponse(
                problem_body(
                    status=401,
                    code="not_authenticated",
                    detail="Send the health token as `Authorization: Bearer <token>`.",
                ),
                status=401,
                content_type=PROBLEM_CONTENT_TYPE,
                headers={"WWW-Authenticate": 'Bearer realm="health"'},
            )
        return view(request, *args, **kwargs)

    return guarded


def probe(view):
    return never_cache(require_GET(view))


@probe
def health(request):
    """Cheap: answers while the process serves, calls no dependency."""
    return JsonResponse(
        {"status": "ok", "service": "addtocart", "version": settings.SERVICE_VERSION}
    )


@probe
def live(request):
    """Liveness: never checks dependencies, so a dead database restarts no pod."""
    return JsonResponse({"status": "ok"})


@probe
def ready(request):
    """Readiness: the database answers and every migration is applied. Redis does not count."""
    result = checks.ready()
    return _answer(result, result["status"] == "ok")


@probe
def database(request):
    result = checks.database()
    return _answer(result, result["status"] == "up")


@probe
def redis(request):
    result = checks.redis()
    return _answer(result, result["status"] != "down")


@probe
def external(request):
    services = checks.external()
    healthy = all(s["status"] != "down" for s in services.values())
    return _answer({"status": "ok" if healthy else "degraded", "services": services}, healthy)


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
    return _answer(body, status != "down")


@probe
@internals
def metrics(request):
    return JsonResponse(checks.process_metrics())
