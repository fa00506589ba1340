"""Check real API responses against the OpenAPI document the service serves.

`assert_matches_schema(response)` finds the request's operation in the document from
GET /api/v1/schema/, requires the response's status code to be documented for it, and
validates the body against the documented schema with openapi-core.
`assert_ok(response, status)` and `assert_problem(response, status, code)` add the status and,
for errors, the RFC 9457 problem format.
"""

import functools
import json

from django.conf import settings
from django.test import override_settings
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30ReadValidator
from referencing import Registry
from referencing.jsonschema import DRAFT4
from rest_framework.test import APIClient

SCHEMA_URL = "/api/v1/schema/?format=json"
DOCUMENT_URI = "urn:addtocart:openapi"
PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


@functools.cache
def schema_document() -> dict:
    """The OpenAPI document as served, fetched once and never counted by a throttle."""
    unthrottled = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    with override_settings(REST_FRAMEWORK=unthrottled):
        response = APIClient().get(SCHEMA_URL)
    assert response.status_code == 200, response.content
    return response.json()


@functools.cache
def openapi() -> OpenAPI:
    # The document's own validity is the subject of test_schema_is_valid_openapi; checking
    # it here as well would fail every API test for that one bug.
    config = Config(spec_validator_cls=None, extra_media_type_deserializers={PROBLEM: json.loads})
    return OpenAPI.from_dict(schema_document(), config=config)


def _errors(response, content_type: str) -> list[Exception]:
    request = MockRequest(
        "http://testserver", response.request["REQUEST_METHOD"], response.request["PATH_INFO"]
    )
    answer = MockResponse(
        response.content, response.status_code, dict(response.items()), content_type
    )
    return list(openapi().iter_response_errors(request, answer))


def _describe(error: Exception) -> str:
    cause = error.__cause__
    details = [
        f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}"
        for e in getattr(cause, "schema_errors", ())
    ]
    return f"{type(error).__name__}: {'; '.join(details)}" if details else str(error)


def assert_matches_schema(response) -> None:
    """The response's status is documented for its operation and its body matches."""
    errors = _errors(response, response.get("Content-Type", "").split(";")[0])
    request = response.request
    where = f"{request['REQUEST_METHOD']} {request['PATH_INFO']} -> {response.status_code}"
    assert not errors, f"{where} does not match the OpenAPI schema: " + "; ".join(
        map(_describe, errors)
    )


def assert_ok(response, status: int = 200) -> dict:
    """A success with this status that matches the schema; returns the body."""
    assert response.status_code == status, response.content
    assert_matches_schema(response)
    return response.json()


def assert_matches_component(body, name: str) -> None:
    """The body matches components/schemas/<name> (for answers outside every operation)."""
    registry = Registry().with_resource(DOCUMENT_URI, DRAFT4.create_resource(schema_document()))
    schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{name}"}
    errors = list(OAS30ReadValidator(schema, registry=registry).iter_errors(body))
    assert not errors, f"body does not match {name}: " + "; ".join(e.message for e in errors)


def assert_problem(response, status: int, code: str | None = None, *, operation=True) -> dict:
    """An RFC 9457 problem with this status (and code), matching the schema; returns the body.

    `operation=False` is for answers outside every documented operation (unknown URLs,
    unsupported methods, failures of the infrastructure: 500, 503): their body is checked
    against components/schemas/ProblemOutput instead.
    """
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["type"] == f"urn:addtocart:problem:{body['code']}"
    assert body["title"]
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    if operation:
        assert_matches_schema(response)
    else:
        assert_matches_component(body, "ProblemOutput")
    return body
