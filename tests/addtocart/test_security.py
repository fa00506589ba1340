"""Security basics: headers, secrets kept out of logs and error bodies."""

import pytest
import requests

from tests.conftest import bearer
from tests.factories import PASSWORD
from tests.live import gunicorn
from tests.resilience.test_faults import service_database_url


@pytest.mark.django_db
def test_pages_and_answers_carry_the_security_headers(client):
    response = client.get("/api/v1/products/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_hsts_and_https_redirect_behind_a_trusted_proxy(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    assert client.get("/api/v1/products/").status_code == 301
    assert client.get("/api/v1/health/live").status_code == 200, "probes are never redirected"
    secure = client.get("/api/v1/products/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_password_token_or_traceback_reaches_the_logs_or_error_bodies(user, product):
    token = bearer(user).split()[1]
    secret_password = "Sup3r-Secret-Passw0rd!"
    with gunicorn(DATABASE_URL=service_database_url(), LOG_LEVEL="debug") as service:
        api = f"{service.url}/api/v1"
        bodies = [
            requests.post(
                f"{api}/auth/token/",
                timeout=10,
                json={"username": user.username, "password": secret_password},
            ),
            requests.post(
                f"{api}/auth/token/",
                timeout=10,
                data=b'{"password": "' + secret_password.encode() + b'", broken',
                headers={"Content-Type": "application/json"},
            ),
            requests.get(f"{api}/cart/", timeout=10, headers={"Authorization": f"Bearer {token}x"}),
            requests.post(
                f"{api}/auth/register/", timeout=10, json={"username": "newbie", "password": "123"}
            ),
            requests.post(
                f"{api}/cart/items/",
                timeout=10,
                headers={"Authorization": f"Bearer {token}"},
                json={"product_id": product.pk, "quantity": 10_000},
            ),
            requests.post(f"{api}/auth/token/refresh/", timeout=10, json={"refresh": token}),
        ]
        assert [r.status_code for r in bodies] == [401, 400, 401, 400, 400, 401]
        logs = service.output()
    for text in [logs, *(r.text for r in bodies)]:
        assert secret_password not in text
        assert PASSWORD not in text
        assert token not in text
        assert "Traceback" not in text
    assert "unauthorized: failed login" in logs


def test_the_policy_built_once_is_django_csps_and_views_may_still_change_it(rf, settings):
    from csp.decorators import csp_update
    from csp.utils import build_policy
    from django.http import HttpResponse

    from addtocart.csp import CSPMiddleware

    @csp_update({"img-src": ["https://images.example.com"]})
    def with_images(request):
        return HttpResponse()

    middleware = CSPMiddleware(lambda request: HttpResponse())
    assert middleware(rf.get("/api/v1/products/"))["Content-Security-Policy"] == build_policy()
    changed = CSPMiddleware(with_images)(rf.get("/"))["Content-Security-Policy"]
    assert "img-src 'self' data: https://images.example.com" in changed

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert middleware(rf.get("/"))["Content-Security-Policy"] == "default-src 'none'"
