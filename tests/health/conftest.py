import pytest

from health import checks


@pytest.fixture(autouse=True)
def _fresh_health_checks(settings):
    """Health results are cached per process for a second or two; tests want fresh ones."""
    checks._cache.clear()
    yield
    checks._cache.clear()
