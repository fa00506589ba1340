"""Benchmarks: `make bench` (run.py, its seeding, load scripts in lua/ and a Django app with the
baselines) and data_scale.py (business metrics and retention at scale).

Never installed in production: only `bench.settings` adds the app and its routes.
"""
