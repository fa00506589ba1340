"""OpenAPI helpers shared by every app's API: the problem document and the answers each
operation documents."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from addtocart.api.problems import PROBLEM_CONTENT_TYPE

# Operations that work with and without a token (the catalog) say so.
OPTIONAL_AUTH = [{"jwtAuth": []}, {}]

COMMON_PROBLEMS = {
    "429": "Too many requests; retry after `Retry-After` seconds.",
    "503": "A dependency (the database, or an external service) is not answering.",
}


class ProblemOutput(serializers.Serializer):
    """RFC 9457 problem details, as every error of the API is answered."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    errors = serializers.DictField(
        required=False, help_text="Per-field messages when the request body was invalid."
    )


def problems(*statuses: int, output: type[serializers.Serializer] = ProblemOutput) -> dict:
    """Documented error answers (429 and 503 are added to every operation by the hook below).
    `output` is a ProblemOutput with an app's own extra members."""
    return {(code, PROBLEM_CONTENT_TYPE): OpenApiResponse(output) for code in statuses}


def add_common_problems(result, generator, request, public):
    """drf-spectacular hook: the answers every API operation may give, documented once."""
    problem = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemOutput"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in COMMON_PROBLEMS.items():
                responses.setdefault(status, {"description": description, "content": problem})
    return result
