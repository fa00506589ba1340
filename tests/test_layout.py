"""The house rules of docs/architecture.md that no linter checks: files small enough to read
whole. (The import rules are import-linter's contracts, run by `make lint`.)"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE_PACKAGES = (
    "addtocart",
    "accounts",
    "carts",
    "events",
    "integrations",
    "health",
    "dashboard",
)
MAX_LINES = 350


def test_no_module_of_the_service_is_longer_than_350_lines():
    too_long = {
        str(path.relative_to(ROOT)): lines
        for package in SERVICE_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not too_long, f"split these by concern (docs/architecture.md): {too_long}"
