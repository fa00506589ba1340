"""Password changes, sign-out everywhere and deactivation end every earlier session."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.accounts.conftest import sign_in
from tests.carts.stubs import add, checkout
from tests.factories import PASSWORD, StaffFactory
from tests.schema import assert_ok, assert_problem

PASSWORD_CHANGE = "/api/v1/auth/password/"
REFRESH = "/api/v1/auth/token/refresh/"
LOGOUT = "/api/v1/auth/logout/"
NEW_PASSWORD = "a-new-Passw0rd-for-2027"
User = get_user_model()


def signed_in(user) -> tuple[APIClient, dict]:
    client = APIClient()
    tokens = assert_ok(sign_in(client, user.username, PASSWORD))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client, tokens


def refresh(tokens: dict):
    return APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json")


def change(client, current=PASSWORD, new=NEW_PASSWORD):
    body = {"current_password": current, "new_password": new}
    return client.post(PASSWORD_CHANGE, body, format="json")


def test_password_change_signs_out_every_earlier_session(user):
    phone, phone_tokens = signed_in(user)
    _laptop, laptop_tokens = signed_in(user)
    rotated = assert_ok(refresh(laptop_tokens))  # a token issued by rotation, before the change
    assert change(phone).status_code == 204
    for tokens in (phone_tokens, rotated):
        assert_problem(refresh(tokens), 401, "password_changed")
    assert_problem(sign_in(APIClient(), user.username, PASSWORD), 401)
    assert_ok(refresh(assert_ok(sign_in(APIClient(), user.username, NEW_PASSWORD))))


def test_a_wrong_current_password_changes_nothing_and_counts(user, login_rates):
    login_rates(login="100/min", login_failures="2/hour")
    client, tokens = signed_in(user)
    for _ in range(2):
        assert_problem(change(client, current="not-it"), 400, "wrong_password")
    assert_problem(change(client), 429, "throttled")
    assert_ok(refresh(tokens))
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("new", "message"),
    [("short", "too short"), ("password123", "too common"), ("12345678901", "entirely numeric")],
)
def test_the_new_password_meets_the_validators(user, new, message):
    client, _ = signed_in(user)
    body = assert_problem(change(client, new=new), 400, "invalid")
    assert message in " ".join(body["errors"]["new_password"])


@pytest.mark.parametrize("body", [{}, {"current_password": PASSWORD}, {"new_password": "x" * 200}])
def test_a_bad_body_is_a_problem(user, body):
    client, _ = signed_in(user)
    assert_problem(client.post(PASSWORD_CHANGE, body, format="json"), 400, "invalid")


def test_password_change_needs_an_access_token(api, db):
    assert_problem(change(api), 401)


def test_the_admin_changing_a_password_ends_the_sessions(user):
    _, tokens = signed_in(user)
    admin = Client()
    admin.force_login(StaffFactory(is_superuser=True))
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    answer = admin.post(f"/admin/auth/user/{user.pk}/password/", form)
    assert answer.status_code == 302, answer.content
    assert_problem(refresh(tokens), 401, "password_changed")


def test_changepassword_and_set_password_end_the_sessions(user, monkeypatch):
    _, before_command = signed_in(user)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", user.username, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert_problem(refresh(before_command), 401, "password_changed")
    user.refresh_from_db()
    client = APIClient()
    tokens = assert_ok(sign_in(client, user.username, NEW_PASSWORD))
    user.set_password(PASSWORD)  # as a reset would
    user.save()
    assert_problem(refresh(tokens), 401, "password_changed")


def test_logout_all_revokes_every_refresh_token(user, api):
    phone, phone_tokens = signed_in(user)
    _, laptop_tokens = signed_in(user)
    assert phone.post(LOGOUT, {"all": True}, format="json").status_code == 204
    for tokens in (phone_tokens, laptop_tokens):
        assert_problem(refresh(tokens), 401, "token_not_valid")
    _, fresh = signed_in(user)
    assert_ok(refresh(fresh))  # a new sign-in works


def test_logout_all_with_only_a_refresh_token(user, api):
    _, phone_tokens = signed_in(user)
    _, laptop_tokens = signed_in(user)
    body = {"refresh": laptop_tokens["refresh"], "all": True}
    assert api.post(LOGOUT, body, format="json").status_code == 204
    assert_problem(refresh(phone_tokens), 401, "token_not_valid")


def test_logout_all_needs_a_token(api, db):
    body = assert_problem(api.post(LOGOUT, {"all": True}, format="json"), 400, "invalid")
    assert "refresh" in body["errors"]


def test_logout_of_one_session_leaves_the_others(user, api):
    _, phone_tokens = signed_in(user)
    _, laptop_tokens = signed_in(user)
    assert api.post(LOGOUT, {"refresh": phone_tokens["refresh"]}, format="json").status_code == 204
    assert_problem(refresh(phone_tokens), 401)
    assert_ok(refresh(laptop_tokens))


def test_a_token_without_the_password_digest_is_refused(user):
    old = RefreshToken.for_user(user)
    del old["hash_password"]  # as issued before this release
    assert_problem(refresh({"refresh": str(old)}), 401, "password_changed")


def test_a_deactivated_account_cannot_check_out_with_a_valid_access_token(user, product):
    client, _ = signed_in(user)
    assert add(client, product).status_code == 201
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_problem(checkout(client), 401, "account_inactive")
    assert_problem(change(client), 401, "account_inactive")
    User.objects.filter(pk=user.pk).update(is_active=True)
    assert_ok(checkout(client))
