"""Hypothesis settings shared by the fuzz and invariant tests.

The normal suite runs a fixed, bounded set of examples (`derandomize`: the same examples on
every run, so a failure is reproducible and CI is not flaky). `make fuzz` sets
`HYPOTHESIS_PROFILE=fuzz` and `FUZZ_EXAMPLES`: random examples, many more of them, and the
failures it finds are kept in `.cache/hypothesis` to be replayed first next time.
"""

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "suite")
FUZZING = PROFILE == "fuzz"
# Examples per API operation and identity for Schemathesis.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300" if FUZZING else "25"))

settings.register_profile(
    "suite",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz",
    deadline=None,
    database=DirectoryBasedExampleDatabase(".cache/hypothesis"),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def profile() -> settings:
    """The chosen profile, to pass as `parent` to a test's own `@settings`."""
    return settings.get_profile(PROFILE)
