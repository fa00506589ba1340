"""drf-spectacular hook: answers every API operation may give, documented once here."""

from addtocart.errors import PROBLEM_CONTENT_TYPE

COMMON_PROBLEMS = {
    "429": "Too many requests; retry after `Retry-After` seconds.",
    "503": "A dependency (the database, or an external service) is not answering.",
}


def add_common_problems(result, generator, request, public):
    problem = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemOutput"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            for status, description in COMMON_PROBLEMS.items():
                responses.setdefault(status, {"description": description, "content": problem})
    return result
