"""Who may see what the health endpoints and `/metrics` know beyond a status.

The health token (`Authorization: Bearer <HEALTH_TOKEN>`, compared in constant time) or a
signed-in staff session. Without HEALTH_TOKEN nobody holds the token, so only staff sessions
see the internals: the service fails closed, and `check --deploy` warns
(health/deploy_checks.py). Probes need no token: they get their status and nothing else.
"""

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from addtocart.api.problems import PROBLEM_CONTENT_TYPE, problem_body
from addtocart.observability.health_token import health_token_in

CHALLENGE = 'Bearer realm="health"'


def may_see_internals(request: HttpRequest) -> bool:
    """The token first: it costs no query, a session user may."""
    if health_token_in(request.headers.get("Authorization", "")):
        return True
    user = getattr(request, "user", None)
    return user is not None and user.is_active and user.is_staff


def unauthorised() -> JsonResponse:
    return JsonResponse(
        problem_body(
            status=401,
            code="not_authenticated",
            detail="Send the health token as `Authorization: Bearer <token>`.",
        ),
        status=401,
        content_type=PROBLEM_CONTENT_TYPE,
        headers={"WWW-Authenticate": CHALLENGE},
    )


def internals(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view only the token's holders and staff may call: 401 problem for anyone else."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not may_see_internals(request):
            return unauthorised()
        return view(request, *args, **kwargs)

    return guarded
