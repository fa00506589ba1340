"""Per-request context: the request id, one "request" log event, the request metrics, and
security events for 401, 403 and 429 answers.

It sits just inside django-prometheus's first middleware, so its timing covers every other
middleware and the view. It makes no database query.
"""

import logging
import re
import time
import uuid

from django.utils.functional import SimpleLazyObject, empty
from rest_framework.settings import api_settings

from addtocart.observability import metrics
from addtocart.observability.logging import REQUEST_ID

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Metric labels stay bounded: any other method is "other", any URL no pattern matched "unmatched".
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "unmatched"

request_log = logging.getLogger("addtocart.request")
security_log = logging.getLogger("addtocart.security")


def client_ip(request) -> str:
    """The caller's address, by the rule DRF's throttles use: REMOTE_ADDR, or, behind
    TRUSTED_PROXIES proxies, the X-Forwarded-For entry that many hops from the right."""
    remote_addr = request.META.get("REMOTE_ADDR", "")
    forwarded_for = request.META.get("HTTP_X_FORWARDED_FOR")
    proxies = api_settings.NUM_PROXIES
    if not proxies or not forwarded_for:
        return remote_addr
    hops = forwarded_for.split(",")
    return hops[-min(proxies, len(hops))].strip()


def route_of(request) -> str:
    """The URL pattern that matched (`api/v1/cart/items/<int:item_id>/`), never the raw path."""
    match = request.resolver_match
    return match.route if match is not None else UNMATCHED


def user_id_of(request) -> str | None:
    """The signed-in user's id, once someone authenticated the request (DRF sets `user` on the
    Django request when it does). A user nobody looked at is left alone: resolving Django's
    lazy session user could query the database."""
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return str(user.pk) if user.is_authenticated else None


def _request_id(request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = _request_id(request)
        token = REQUEST_ID.set(request.request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            duration = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = request.request_id
            self.record(request, response, duration)
            return response
        finally:
            REQUEST_ID.reset(token)

    def record(self, request, response, duration: float) -> None:
        method = request.method if request.method in METHODS else "other"
        route = route_of(request)
        status = response.status_code
        metrics.observe_request(method=method, route=route, status=status, duration=duration)
        fields = {
            "request_id": request.request_id,
            "method": method,
            "route": route,
            "path": request.path,
            "status": status,
            "duration_ms": round(duration * 1000, 2),
            "client_ip": client_ip(request),
            "user_id": user_id_of(request),
        }
        request_log.info("request", extra=fields)
        if status in (401, 403, 429):
            log_security_event(request, response, fields)


def log_security_event(request, response, fields: dict) -> None:
    """A refused caller, as a warning operators find with `grep unauthorized|forbidden|security`.

    Only the user name of a failed sign-in is read from the body; never a password or token.
    """
    event = {key: fields[key] for key in ("request_id", "method", "route", "status")}
    event.update(client_ip=fields["client_ip"], user_id=fields["user_id"])
    body = getattr(response, "data", None)
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        event["code"] = body["code"]
    status = fields["status"]
    if status == 401 and _is_sign_in(request):
        event["username"] = _username_tried(response)
        security_log.warning("unauthorized: failed login", extra=event)
    elif status == 401:
        security_log.warning("unauthorized: missing or bad credentials", extra=event)
    elif status == 403:
        security_log.warning("forbidden: permission denied", extra=event)
    else:
        security_log.warning("security: throttled", extra=event)


def _is_sign_in(request) -> bool:
    match = request.resolver_match
    return request.method == "POST" and match is not None and match.url_name == "token"


def _username_tried(response) -> str | None:
    """From the body DRF already parsed (its request is in the response's renderer context)."""
    drf_request = getattr(response, "renderer_context", {}).get("request")
    data = getattr(drf_request, "data", None)
    username = data.get("username") if isinstance(data, dict) else None
    return username[:150] if isinstance(username, str) else None
