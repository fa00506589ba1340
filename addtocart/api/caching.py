"""Who may keep an answer: nothing that depends on the caller is kept by a shared cache.

Every answer under /api/ and /metrics is `Cache-Control: private, no-store`, with
`Vary: Authorization, X-Session-ID` (the headers that name the caller: a cart answer carries a
guest's session id), unless its view made it public (`public_answer`): the catalog, read by a
guest, for CATALOG_CACHE_SECONDS, with an ETag of its body, so that revalidating costs no body
(304).
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers, set_response_etag

PRIVATE_PATHS = ("/api/", "/metrics")
PRIVATE = "private, no-store"
CALLER_HEADERS = ("Authorization", "X-Session-ID")


def public_answer(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Let shared caches keep a guest's answer (the same for every guest) for
    CATALOG_CACHE_SECONDS; a signed-in caller's stays private (staff see more)."""
    seconds = settings.CATALOG_CACHE_SECONDS
    if seconds and not request.user.is_authenticated:
        response["Cache-Control"] = f"public, max-age={seconds}"
    return response


class CacheControlMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(PRIVATE_PATHS):
            return response
        if "public" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = PRIVATE
            patch_vary_headers(response, CALLER_HEADERS)
            return response
        patch_vary_headers(response, ("Authorization",))
        if request.method != "GET" or response.status_code != 200 or response.streaming:
            return response
        if not response.has_header("ETag"):
            set_response_etag(response)
        return get_conditional_response(request, etag=response["ETag"], response=response)
