# The Add-to-Cart Service image: gunicorn serving Django on port 8000, as uid 10001.
#
#   docker build -t addtocart-service:1.0.0 .
#   docker run --rm -p 8000:8000 -e DJANGO_SECRET_KEY=... -e JWT_SIGNING_KEY=... \
#       -e DATABASE_URL=postgres://... -e REDIS_URL=redis://... \
#       -e ALLOWED_HOSTS=cart.example.com,127.0.0.1 addtocart-service:1.0.0
# (127.0.0.1 for the HEALTHCHECK below, which calls the service on it.)
#
# Two stages: the build stage installs the requirements into a virtualenv and collects the
# static files; the final stage gets only that virtualenv and the code, so no pip cache, build
# tool or build-time setting reaches the image. tests/deploy/test_docker.py lints this file
# with hadolint and repeats the build steps without Docker.

FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
# Every requirement ships as a wheel for this platform: no compiler is needed, even here.
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

WORKDIR /app
COPY . /app
# The settings refuse to load without secrets and ALLOWED_HOSTS: placeholders for this one
# command only (never ENV, which would stay in the image). collectstatic touches no database.
RUN DJANGO_SECRET_KEY=build-only JWT_SIGNING_KEY=build-only-jwt DATABASE_URL=sqlite:///:memory: \
    ALLOWED_HOSTS=localhost \
    /opt/venv/bin/python manage.py collectstatic --no-input -v 0 \
 && /opt/venv/bin/python -m compileall -q /app


FROM python:3.11-slim

# The root filesystem is read-only in Kubernetes: Python must not try to write .pyc files
# (the build compiled them), and output must not wait in a buffer.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin app

# Owned by root and read-only for the service: it cannot change its own code.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app

USER 10001:10001
EXPOSE 8000

# Liveness only (no dependency is checked), with Python: the slim image has no curl.
# Docker uses this; Kubernetes ignores it and uses the Deployment's probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/v1/health/live' % os.environ.get('PORT', '8000'), timeout=4)"]

# No arguments: gunicorn (see the script). Arguments: that command, e.g.
# `docker run IMAGE python manage.py migrate --no-input`.
ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
