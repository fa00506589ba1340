"""gunicorn settings of the bare baselines: the service's own.

bench/run.py reads them from addtocart/gunicorn.conf.py under the benchmark's environment
(bench.harness.config_settings: workers, worker class, threads, timeouts, keep-alive,
max_requests and its jitter, preload_app...) and hands them over as JSON in
BENCH_GUNICORN_SETTINGS. Left out: the port (PORT), and the service's JSON logging and its
Prometheus hooks, which would import the service.
"""

import json
import os

globals().update(json.loads(os.environ["BENCH_GUNICORN_SETTINGS"]))
bind = f"127.0.0.1:{os.environ['PORT']}"
