"""The health token (`HEALTH_TOKEN`): what lets operators' tools read internals (the service's
health details and `/metrics`, the webhook worker's `/metrics`) without a staff session."""

import secrets

from django.conf import settings


def health_token_in(authorization: str) -> bool:
    """Whether an `Authorization` header carries the health token (`Bearer <token>`), compared
    in constant time. Without HEALTH_TOKEN nobody holds it: the check fails closed."""
    expected = settings.HEALTH_TOKEN
    if not expected:
        return False
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        token.strip().encode(), expected.encode()
    )
