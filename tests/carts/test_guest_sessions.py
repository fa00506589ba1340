"""Guest session ids: signed by the server, so made-up or altered ids are never adopted."""

import base64

import pytest
from django.core import signing

from carts.guest_sessions import guest_session_issue, guest_session_sign, guest_session_verify


def test_an_issued_id_verifies_to_its_token():
    session_id, token = guest_session_issue()
    assert session_id.startswith(f"{token}:")
    assert guest_session_verify(session_id) == token
    assert guest_session_verify(f" {session_id}\n") == token


def test_signing_a_token_gives_its_issued_id():
    session_id, token = guest_session_issue()
    assert guest_session_sign(token) == session_id


def test_two_issues_differ():
    first_id, first_token = guest_session_issue()
    second_id, second_token = guest_session_issue()
    assert first_id != second_id
    assert first_token != second_token


def test_a_token_holds_128_random_bits():
    _, token = guest_session_issue()
    assert len(token) == 22
    assert len(base64.urlsafe_b64decode(token + "==")) == 16


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
    session_id, token = guest_session_issue()
    assert guest_session_verify(tamper(session_id, token)) is None
