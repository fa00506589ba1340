"""The request headers of the cart API: the guest session, preconditions, idempotency; and
how the OpenAPI schema documents them."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

SESSION_HEADER = "X-Session-ID"

SESSION_PARAM = OpenApiParameter(
    SESSION_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, description="A guest's session id."
)
MERGED_SESSION_PARAM = OpenApiParameter(
    SESSION_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The session id of the guest cart to merge.",
)
IF_MATCH_PARAM = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description="The cart's ETag."
)
IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Retries with the same key and body within 24 hours get the first answer.",
)
CART_WRITE_PARAMS = [SESSION_PARAM, IF_MATCH_PARAM]


def etags(request: Request, header_name: str) -> list[str] | None:
    """The entity tags of an `If-Match` or `If-None-Match` header; None without the header."""
    header = request.headers.get(header_name)
    if header is None:
        return None
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_match(request: Request) -> list[str] | None:
    return etags(request, "If-Match")
