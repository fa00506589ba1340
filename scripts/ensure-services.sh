#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on localhost, starting the machine's own servers
# if they are installed but stopped. Fails with a clear message otherwise.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  echo "Starting PostgreSQL..."
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 30); do pg_up && break; sleep 1; done
fi
if ! redis_up && command -v redis-server >/dev/null; then
  echo "Starting Redis..."
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 30); do redis_up && break; sleep 1; done
fi

pg_up || { echo "PostgreSQL does not answer on 127.0.0.1:5432 (see README.md, \"Test it\")." >&2; exit 1; }
redis_up || { echo "Redis does not answer on 127.0.0.1:6379 (see README.md, \"Test it\")." >&2; exit 1; }
echo "PostgreSQL and Redis are up."
