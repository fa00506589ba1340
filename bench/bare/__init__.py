"""The bare baselines: a Django + DRF project of its own, for `make bench` to measure beside the
service, with the same gunicorn settings, on the same database.

What the service's stack costs is the distance between these and the service's answers: here
there is no middleware but the benchmark's SQL counter (bench/middleware.py, which the service
runs too), no authentication, permission, throttle, metrics, request log, session, CSRF or CSP.

- `POST /bench/write/<id>/`: a DRF view, one primary-key SELECT and one UPDATE of the product in
  a transaction, answered with DRF's JSON renderer. The service's in-stack write baseline is
  this same view (bench/urls.py), so the two differ only by the stack around them.
- `GET /bench/json/`: a plain Django view answering a small `JsonResponse`.

Nothing here imports the service (addtocart, carts, accounts, health, dashboard, integrations):
tests/bench/test_bare.py checks it.
"""
