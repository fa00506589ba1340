"""Guest session ids: issued by the server, signed, so a made-up id is never adopted.

An id is `<128 random bits, url-safe>:<signature>`. The signature is checked without a
database query; carts store only the random part.
"""

import secrets

from django.core import signing

_signer = signing.Signer(salt="carts.guest-session")


def guest_session_issue() -> tuple[str, str]:
    """Return a new (session id for the client, token stored on the cart)."""
    token = secrets.token_urlsafe(16)
    return _signer.sign(token), token


def guest_session_verify(value: str | None) -> str | None:
    """Return the token of a session id this server issued, else None."""
    if not value or len(value) > 200:
        return None
    try:
        return _signer.unsign(value.strip())
    except signing.BadSignature:
        return None


def guest_session_sign(token: str) -> str:
    return _signer.sign(token)
