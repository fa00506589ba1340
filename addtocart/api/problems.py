"""One error format for the whole API: RFC 9457 problem details.

Domain code raises `DomainError` subclasses with a stable `code`; DRF raises its own
exceptions. `problem_exception_handler` turns both into `application/problem+json`.
"""

import logging
import re
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# Named for what it logs, not for this module: the name is part of the log format operators use.
logger = logging.getLogger("addtocart.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = "5"


class DomainError(Exception):
    """A rule of the domain was not met. Subclasses set `status`, `code` and `title`;
    `retry_after` (seconds) becomes the answer's `Retry-After` (503s have one by default)."""

    status: int = 400
    code: str = "domain_error"
    title: str = "The request breaks a rule of the service."

    def __init__(
        self, detail: str | None = None, *, retry_after: int | None = None, **extra: Any
    ) -> None:
        self.detail = detail or self.title
        self.retry_after = retry_after
        self.extra = extra
        super().__init__(self.detail)


def problem_body(*, status: int, code: str, detail: str, title: str | None = None, **extra: Any):
    return {
        "type": f"urn:addtocart:problem:{code}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


def problem_response(*, status: int, code: str, detail: str, headers=None, **extra) -> Response:
    return Response(
        problem_body(status=status, code=code, detail=detail, **extra),
        status=status,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(codes.get("code"), str):
        return codes["code"]  # simplejwt puts its own code in a dict detail
    return exc.default_code


def _detail_of(exc: exceptions.APIException) -> str:
    if isinstance(exc.detail, dict) and "detail" in exc.detail:
        return str(exc.detail["detail"])
    if isinstance(exc.detail, (dict, list)):
        return exc.default_detail
    return str(exc.detail)


def _database_error(exc: Exception) -> str:
    """The driver's first line, e.g. `...port 5432 failed: timeout expired`; libpq never
    echoes a password, and any `password=` is masked in case."""
    first_line = next(iter(str(exc).strip().splitlines()), "")[:300]
    return exc.__class__.__name__ + ": " + re.sub(r"(?i)(password=)\S+", r"\1***", first_line)


def _retry_after(exc: DomainError) -> dict[str, str] | None:
    if exc.retry_after is not None:
        return {"Retry-After": str(exc.retry_after)}
    return {"Retry-After": RETRY_AFTER_SECONDS} if exc.status == 503 else None


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return problem_response(
            status=exc.status,
            code=exc.code,
            detail=exc.detail,
            title=exc.title,
            headers=_retry_after(exc),
            **exc.extra,
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status=413,
            code="body_too_large",
            detail=f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("Database connection failed: %s", _database_error(exc))
        return problem_response(
            status=503,
            code="database_unavailable",
            detail="The database is not answering. Try again shortly.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        body = problem_body(
            status=response.status_code,
            code="invalid",
            detail="The request is not valid; see `errors`.",
            errors=exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail},
        )
    else:
        if not isinstance(exc, exceptions.APIException):
            exc = (
                exceptions.NotFound()
                if response.status_code == 404
                else exceptions.PermissionDenied()
            )
        body = problem_body(status=response.status_code, code=_code_of(exc), detail=_detail_of(exc))
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _plain_problem(request, status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem_body(status=status, code=code, detail=detail),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def handler404(request, exception=None):
    if not request.path.startswith("/api/"):
        return defaults.page_not_found(request, exception)
    return _plain_problem(request, 404, "not_found", "There is nothing at this address.")


def handler500(request):
    if not request.path.startswith("/api/"):
        return defaults.server_error(request)
    return _plain_problem(
        request, 500, "internal_error", "The service failed to answer; the error was logged."
    )
