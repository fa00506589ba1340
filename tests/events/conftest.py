from tests.carts.conftest import fake_services, fast_breaker, payments  # noqa: F401
