"""Benchmarks (docs/performance.md).

`make bench` is run.py: seeding in seed.py, load scripts in lua/, the in-stack baselines and
the SQL counter in settings.py, urls.py, views.py and middleware.py, the bare baselines (a
Django + DRF project of their own) in bare/, the profile's sums in profiling.py, and
harness.py, which starts gunicorn for the benchmark and for the tests (tests/live.py), and
payment_stub.py, a payment service on loopback for the checkout scenarios. data_scale.py times
the business metrics and the purge at scale; checkout_contention.py, checkouts of one product
waiting on a slow payment service.

Never installed in production: only `bench.settings` adds the app and its routes.
"""
