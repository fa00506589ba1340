"""The health token of the tests: give it to a live service (`gunicorn(HEALTH_TOKEN=...)`) and
send `AUTHORIZED` to read what only its holders see (/metrics, the health details)."""

HEALTH_TOKEN = "tests-only-health-token-0123456789abcdef"
AUTHORIZED = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
