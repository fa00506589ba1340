"""Where a request's time goes: py-spy's samples of a gunicorn worker summed into the stack's
parts.

`python -m bench.run profile` serves with one worker and loads it over one connection, while
py-spy (a sampling profiler that reads the worker's memory from outside, so the worker runs
its own code unslowed) takes its call stack BENCH_PROFILE_RATE times a second, idle or not:
wall time, waits on PostgreSQL and Redis included, as in a request's latency. pyinstrument
and cProfile run inside the process and pay on every Python call: pyinstrument made a
`GET cart/` 1.7 times slower sampling every millisecond, 4 times every 0.1 ms, and the
slowdown falls on the parts that make many Python calls, not on the waits.

Samples outside a request (the worker waiting for a connection) are left out: a request is
everything under gunicorn's `handle` (reading the request, the app, writing the answer). Each
frame of a stack may belong to a part by its file (for a few DRF methods, by its name); the
sample goes to the part of the innermost frame that has one. So the time PyJWT spends under
the service's authentication class is authentication, the SQL a view runs is SQL, and what a
view does itself is the view. A part's time per request is its share of the samples times
the mean time between requests that wrk measured during the samples.
"""

import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rule(*paths: str, functions: Iterable[str] = ()) -> tuple[re.Pattern, frozenset[str]]:
    return re.compile("|".join(paths)), frozenset(functions)


# (part, rules): the first part with a rule that matches a frame is the frame's part.
PARTS: tuple[tuple[str, tuple[tuple[re.Pattern, frozenset[str]], ...]], ...] = (
    ("benchmark", (_rule(r"/bench/middleware\.py$"),)),  # the SQL counter
    (
        "SQL",
        (
            _rule(r"/django/db/", r"/psycopg2?/", r"/carts/db/", r"/carts/sql\.py$"),
            _rule(r"/addtocart/postgresql/"),
        ),
    ),
    (
        "authentication",
        (
            _rule(r"/rest_framework_simplejwt/", r"/jwt/", r"/django/contrib/auth/"),
            _rule(r"/rest_framework/authentication\.py$", r"/addtocart/.*authentication\.py$"),
            _rule(
                r"/rest_framework/(views|request)\.py$",
                functions=("perform_authentication", "_authenticate", "_not_authenticated"),
            ),
        ),
    ),
    (
        "throttling",
        (
            _rule(r"/rest_framework/throttling\.py$", r"/addtocart/.*throttling\.py$"),
            _rule(r"/rest_framework/views\.py$", functions=("check_throttles",)),
        ),
    ),
    (
        "metrics",
        (_rule(r"/prometheus_client/", r"/django_prometheus/", r"/addtocart/.*metrics\.py$"),),
    ),
    (
        "logging",
        (
            _rule(r"/logging/(__init__|handlers)\.py$", r"/pythonjsonlogger/"),
            # gunicorn's access log: its fields are built for every request, then dropped.
            _rule(r"/gunicorn/glogging\.py$"),
            # The request-context middleware: request id, the request's log fields.
            _rule(r"/addtocart/(.*/)?(logging|middleware)\.py$"),
        ),
    ),
    (
        "other middleware",
        (
            _rule(r"/django/middleware/", r"/django/contrib/(sessions|messages)/"),
            _rule(r"/whitenoise/", r"/csp/", r"/django/utils/deprecation\.py$"),
            _rule(r"/django/core/handlers/exception\.py$", functions=("inner",)),
        ),
    ),
    (
        "rendering",
        (
            _rule(r"/rest_framework/(renderers|response)\.py$", r"/addtocart/.*renderers\.py$"),
            _rule(r"/django/template/response\.py$", r"/orjson/"),
        ),
    ),
    ("view", ()),  # the project's own code not named above: see part_of()
    ("Django & DRF", (_rule(r"/django/", r"/rest_framework/"),)),
    ("gunicorn", (_rule(r"/gunicorn/"),)),
)
ORDER = [name for name, _ in PARTS]
# The columns of the report: the parts, then what "the rest" is made of.
REST = ("other middleware", "view", "Django & DRF", "gunicorn", "benchmark")


def frame_of(frame: str) -> tuple[str, str]:
    """(function, file) of a frame as py-spy writes it: `Class.method (/path/file.py:12)`;
    the function without its class or enclosing function."""
    name, _, place = frame.rpartition(" (")
    return name.rpartition(".")[2], place.rpartition(":")[0]


def part_of(function: str, path: str, root: str = str(ROOT)) -> str | None:
    if path and not path.startswith(("/", "<")):
        path = f"{root}/{path}"  # imported through a relative entry of sys.path
    for name, rules in PARTS:
        for paths, functions in rules:
            if paths.search(path) and (not functions or function in functions):
                return name
        if name == "view" and path.startswith(root + "/") and "/site-packages/" not in path:
            return name
    return None


def is_request(function: str, path: str) -> bool:
    return function == "handle" and "/gunicorn/workers/" in path


def samples(text: str) -> Iterable[tuple[list[str], int]]:
    """py-spy's raw output: one stack a line, root first, frames joined by `;`, then a space
    and the number of samples."""
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def breakdown(records: Iterable[tuple[list[str], int]], root: str = str(ROOT)) -> dict:
    """Samples per part; "between requests" for the samples outside any."""
    counts = dict.fromkeys(ORDER, 0)
    counts["unattributed"] = counts["between requests"] = 0
    cache: dict[str, str | None] = {}
    for stack, count in records:
        frames = [frame_of(frame) for frame in stack]
        start = next((i for i, frame in enumerate(frames) if is_request(*frame)), None)
        if start is None:
            counts["between requests"] += count
            continue
        part = None
        for frame, (function, path) in zip(
            reversed(stack[start:]), reversed(frames[start:]), strict=True
        ):
            if frame not in cache:
                cache[frame] = part_of(function, path, root=root)
            part = cache[frame]
            if part is not None:
                break
        counts[part or "unattributed"] += count
    return counts


def per_request_ms(counts: dict, requests_per_second: float) -> dict:
    """Milliseconds per request of each part, of the issue's "rest", in all, and the share of
    the worker's time spent in requests."""
    total = sum(counts.values())
    interval = 1000 / requests_per_second  # ms between two requests' starts
    ms = {
        part: round(count / total * interval, 3)
        for part, count in counts.items()
        if part != "between requests"
    }
    ms["rest"] = round(sum(ms[part] for part in (*REST, "unattributed")), 3)
    ms["total"] = round(sum(ms[part] for part in (*ORDER, "unattributed")), 3)
    ms["busy"] = round(1 - counts["between requests"] / total, 3)
    return ms
