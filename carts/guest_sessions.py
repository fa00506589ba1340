"""Guest session ids: issued by the server, signed, so a made-up id is never adopted.

An id is `<128 random bits, url-safe>:<signature>`. The signature is checked without a
database query. Nothing at rest holds the random part (the token): a cart stores its SHA-256
(`guest_session_hash`), and everything past the API works with that digest, so a database
dump or a backup hands out no live session. The client sends its id on every request, so
the server needs no token back but in one answer: the replay of a guest's first write, whose
retry has no id yet. That record keeps the token sealed under the Idempotency-Key
(`guest_session_seal`, carts/idempotency.py).

A plain SHA-256, neither salted nor slow: salts and slow hashes protect guessable secrets
such as passwords, and a token is 128 random bits, out of reach of any search. It costs about
1 µs per request, and the lookup stays one indexed equality on the stored digest.
"""

import hashlib
import hmac
import secrets

from django.core import signing

_signer = signing.Signer(salt="carts.guest-session")
_SEAL = b"carts.guest-session.seal"


def guest_session_hash(token: str) -> str:
    """What a cart stores for a session: the SHA-256 of its token, 64 hex digits."""
    return hashlib.sha256(token.encode()).hexdigest()


def guest_session_issue() -> tuple[str, str]:
    """Return a new (session id for the client, digest stored on the cart)."""
    token = secrets.token_urlsafe(16)
    return _signer.sign(token), guest_session_hash(token)


def _token(value: str | None) -> str | None:
    if not value or len(value) > 200:
        return None
    try:
        return _signer.unsign(value.strip())
    except signing.BadSignature:
        return None


def guest_session_verify(value: str | None) -> str | None:
    """Return the stored digest of a session id this server issued, else None."""
    token = _token(value)
    return None if token is None else guest_session_hash(token)


def guest_session_sign(token: str) -> str:
    """The session id of a token (the same id as issued: signing is deterministic)."""
    return _signer.sign(token)


def _pad(secret: str, context: str, size: int) -> bytes:
    if size > hashlib.sha256().digest_size:
        raise ValueError("A sealed token is at most 32 bytes.")
    return hmac.new(secret.encode(), _SEAL + context.encode(), hashlib.sha256).digest()[:size]


def guest_session_seal(session_id: str, *, secret: str, context: str) -> str | None:
    """The token of `session_id` encrypted for the one who knows `secret` (hex), or None for an
    id this server did not issue.

    A one-time pad: the token XOR HMAC-SHA256(secret, context). HMAC is a pseudo-random
    function, so without `secret` the sealed bytes say nothing about the token; `context`
    (the record's id) makes each pad serve once even if a secret is used again later.
    """
    token = _token(session_id)
    if token is None:
        return None
    raw = token.encode()
    return bytes(a ^ b for a, b in zip(raw, _pad(secret, context, len(raw)), strict=True)).hex()


def guest_session_unseal(sealed: str, *, secret: str, context: str) -> str:
    """The session id that `guest_session_seal` sealed with the same secret and context."""
    raw = bytes.fromhex(sealed)
    token = bytes(a ^ b for a, b in zip(raw, _pad(secret, context, len(raw)), strict=True))
    return guest_session_sign(token.decode())
