import pytest

TOKEN = "/api/v1/auth/token/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def login_rates(settings):
    """Set the login rates of a test: `login_rates(login="100/min", login_failures="3/hour")`."""

    def set_rates(**rates: str) -> None:
        current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**current, **rates},
        }

    return set_rates


def sign_in(client, username: str, password: str, address: str = "203.0.113.7"):
    body = {"username": username, "password": password}
    return client.post(TOKEN, body, format="json", REMOTE_ADDR=address)


def admin_sign_in(client, username: str, password: str, address: str = "203.0.113.7"):
    body = {"username": username, "password": password, "next": "/admin/"}
    return client.post(ADMIN_LOGIN, body, REMOTE_ADDR=address)
