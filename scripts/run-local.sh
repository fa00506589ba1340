#!/usr/bin/env bash
# `make run`: migrate, load the demo catalog, ensure a staff account, serve with gunicorn,
# and run the checkout sweeper every SWEEPER_INTERVAL_SECONDS (60) and the webhook worker
# while gunicorn runs.
# Local secrets are generated once into .local/dev.env (git-ignored) and reused; variables
# already set in the environment win over that file. A HEALTH_TOKEN (for /metrics and the
# health endpoints' details) is added to a dev.env made before it existed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
ENV_FILE="${LOCAL_ENV_FILE:-.local/dev.env}"

if [ ! -f "$ENV_FILE" ]; then
  mkdir -p "$(dirname "$ENV_FILE")"
  "$PY" - > "$ENV_FILE" <<'PYTHON'
import secrets
print(f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"JWT_SIGNING_KEY={secrets.token_urlsafe(50)}")
print("DJANGO_SUPERUSER_USERNAME=admin")
print(f"DJANGO_SUPERUSER_PASSWORD={secrets.token_urlsafe(12)}")
print(f"HEALTH_TOKEN={secrets.token_urlsafe(32)}")
PYTHON
  chmod 600 "$ENV_FILE"
  echo "Generated local secrets in $ENV_FILE"
elif ! grep -q '^HEALTH_TOKEN=.' "$ENV_FILE"; then
  sed -i '/^HEALTH_TOKEN=/d' "$ENV_FILE"
  [ -z "$(tail -c 1 "$ENV_FILE")" ] || echo >> "$ENV_FILE"  # a last line without its newline
  "$PY" -c 'import secrets; print(f"HEALTH_TOKEN={secrets.token_urlsafe(32)}")' >> "$ENV_FILE"
  echo "Added a HEALTH_TOKEN to $ENV_FILE"
fi
while IFS='=' read -r name value; do
  [ -n "$name" ] && [ -z "${!name:-}" ] && export "$name=$value"
done < "$ENV_FILE"
export PORT="${PORT:-8000}"
# Plain HTTP on this machine: no HTTPS redirect, no Secure-only cookies (production has both).
export ALLOWED_HOSTS="${ALLOWED_HOSTS:-localhost,127.0.0.1,[::1]}"
export SECURE_SSL_REDIRECT="${SECURE_SSL_REDIRECT:-false}" SECURE_COOKIES="${SECURE_COOKIES:-false}"
export WEBHOOK_ALLOW_PRIVATE_URLS="${WEBHOOK_ALLOW_PRIVATE_URLS:-true}"  # webhooks to a receiver here

"$PY" manage.py migrate --no-input -v 0
"$PY" manage.py collectstatic --no-input -v 0
"$PY" manage.py load_demo_catalog
"$PY" manage.py ensure_staff_user

cat <<MSG

  Add-to-Cart Service on http://localhost:${PORT}  (API docs: http://localhost:${PORT}/api/v1/docs/)
  Staff login for http://localhost:${PORT}/admin/: ${DJANGO_SUPERUSER_USERNAME} / ${DJANGO_SUPERUSER_PASSWORD}
  Database: ${DATABASE_URL:-SQLite file db.sqlite3}   Cache: ${REDIS_URL:-in-process}
  Health token (HEALTH_TOKEN, for /metrics and the health details): ${HEALTH_TOKEN}
    curl -s -H 'Authorization: Bearer ${HEALTH_TOKEN}' http://localhost:${PORT}/api/v1/health/detailed

MSG
# The checkout sweeper, as the CronJob runs it in a cluster (docs/operations.md,
# "8. Checkouts and the sweeper"): its log lines (JSON) are shown, its summary line is not.
# After the exec below, $$ is gunicorn's pid: the loop ends within a second of gunicorn.
# A background job of a script ignores SIGINT, so Ctrl-C stops gunicorn, then this.
SWEEPER_INTERVAL_SECONDS="${SWEEPER_INTERVAL_SECONDS:-60}"
(
  waited=0
  while sleep 1 && kill -0 $$ 2>/dev/null; do
    waited=$((waited + 1))
    if [ "$waited" -ge "$SWEEPER_INTERVAL_SECONDS" ]; then
      waited=0
      "$PY" manage.py release_expired_reservations | grep --line-buffered '^{' || true
    fi
  done
) &
# The webhook worker, as its Deployment runs it in a cluster (docs/operations.md, "9. Events
# and webhooks"). It takes Ctrl-C with gunicorn; if gunicorn stops by itself, the loop below
# sends it SIGTERM within a second.
WEBHOOK_WORKER_PORT="${WEBHOOK_WORKER_PORT:-0}" "$PY" manage.py deliver_webhooks &
WEBHOOK_WORKER=$!
(
  while sleep 1 && kill -0 $$ 2>/dev/null; do :; done
  kill -TERM "$WEBHOOK_WORKER" 2>/dev/null || true
) &
exec "${VENV:-.venv}/bin/gunicorn" -c addtocart/gunicorn.conf.py addtocart.wsgi
