"""Guest session ids: signed by the server, so made-up or altered ids are never adopted; at
rest only the SHA-256 of their token, and a new guest's id sealed under its Idempotency-Key."""

import base64
import hashlib
import timeit

import pytest
from django.core import signing

from carts.guest_sessions import (
    guest_session_hash,
    guest_session_issue,
    guest_session_seal,
    guest_session_sign,
    guest_session_unseal,
    guest_session_verify,
)


def _token(session_id: str) -> str:
    return session_id.rsplit(":", 1)[0]


def test_an_issued_id_verifies_to_the_digest_of_its_token():
    session_id, digest = guest_session_issue()
    token = _token(session_id)
    assert digest == hashlib.sha256(token.encode()).hexdigest() == guest_session_hash(token)
    assert len(digest) == 64
    assert token not in digest
    assert guest_session_verify(session_id) == digest
    assert guest_session_verify(f" {session_id}\n") == digest


def test_signing_a_token_gives_its_issued_id():
    session_id, _ = guest_session_issue()
    assert guest_session_sign(_token(session_id)) == session_id


def test_two_issues_differ():
    first_id, first_digest = guest_session_issue()
    second_id, second_digest = guest_session_issue()
    assert first_id != second_id
    assert first_digest != second_digest


def test_a_token_holds_128_random_bits():
    session_id, _ = guest_session_issue()
    token = _token(session_id)
    assert len(token) == 22
    assert len(base64.urlsafe_b64decode(token + "==")) == 16


def test_hashing_costs_microseconds():
    """The price of keeping digests: one SHA-256 of 22 characters per guest request (about
    1 µs; the bound leaves room for a slow, busy machine)."""
    token = _token(guest_session_issue()[0])
    seconds = min(timeit.repeat(lambda: guest_session_hash(token), number=1000, repeat=5))
    assert seconds / 1000 < 50e-6


def test_a_sealed_id_is_unsealed_with_the_same_secret_and_context_only():
    session_id, _ = guest_session_issue()
    sealed = guest_session_seal(session_id, secret="the-key", context="7")
    assert _token(session_id) not in sealed
    assert len(bytes.fromhex(sealed)) == 22
    assert guest_session_unseal(sealed, secret="the-key", context="7") == session_id
    assert guest_session_seal(session_id, secret="the-key", context="8") != sealed
    assert guest_session_seal(session_id, secret="other-key", context="7") != sealed
    for secret, context in [("other-key", "7"), ("the-key", "8")]:
        try:
            unsealed = guest_session_unseal(sealed, secret=secret, context=context)
        except ValueError:  # not even text
            unsealed = None
        assert unsealed != session_id


def test_only_an_issued_id_is_sealed():
    assert guest_session_seal("made-up:signature", secret="k", context="1") is None
    with pytest.raises(ValueError, match="at most 32 bytes"):
        guest_session_seal(guest_session_sign("x" * 33), secret="k", context="1")


def _swap_char(text: str, index: int) -> str:
    index %= len(text)
    return text[:index] + ("B" if text[index] == "A" else "A") + text[index + 1 :]


TAMPERINGS = {
    "token-only": lambda session_id, token: token,
    "no-signature": lambda session_id, token: f"{token}:",
    "changed-token": lambda session_id, token: _swap_char(session_id, 0),
    "changed-signature": lambda session_id, token: _swap_char(session_id, -1),
    "other-salt": lambda session_id, token: signing.Signer(salt="elsewhere").sign(token),
    "made-up": lambda session_id, token: "made-up-token:made-up-signature",
    "too-long": lambda session_id, token: guest_session_sign("x" * 200),
    "empty": lambda session_id, token: "",
    "none": lambda session_id, token: None,
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=list(TAMPERINGS))
def test_a_tampered_or_made_up_id_is_refused(tamper):
    session_id, _ = guest_session_issue()
    assert guest_session_verify(tamper(session_id, _token(session_id))) is None
