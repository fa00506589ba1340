"""Health endpoints for probes and on-call engineers."""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def health(request):
    """Cheap: answers while the process serves, calls no dependency."""
    return JsonResponse({"status": "ok", "service": "addtocart"})


@never_cache
@require_GET
def live(request):
    """Liveness: never checks dependencies, so a dead database restarts no pod."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    """Readiness: the database answers and every migration is applied."""
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # any failure to reach the database means not ready
        return JsonResponse(
            {"status": "unavailable", "database": "down", "error": exc.__class__.__name__},
            status=503,
        )
    if pending:
        return JsonResponse(
            {"status": "unavailable", "database": "up", "pending_migrations": len(pending)},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": "up"})
