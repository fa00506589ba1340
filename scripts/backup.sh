#!/usr/bin/env bash
# `make backup`: dump the database at $DATABASE_URL with pg_dump, as plain SQL, into
# $BACKUP_DIR (default backups/) as backup_YYYYmmdd_HHMMSS.sql (UTC); prints the file's path.
# Restore it with `make restore FILE=...`. Carts, lines, products, users and idempotency
# records all live in PostgreSQL: Redis holds only what can be rebuilt, so it needs no backup.
#
# --no-owner --no-privileges: the dump restores into any database the restoring role owns.
# pg_dump's major version must be at least the server's (pg_dump refuses otherwise).
set -euo pipefail

: "${DATABASE_URL:?Set DATABASE_URL to the database to back up (postgres://user:pass@host:5432/name).}"
case "$DATABASE_URL" in
  postgres://* | postgresql://*) ;;
  *) echo "DATABASE_URL is not a PostgreSQL URL: only PostgreSQL is backed up this way." >&2; exit 2 ;;
esac

dir="${BACKUP_DIR:-backups}"
mkdir -p "$dir"
file="$dir/backup_$(date -u +%Y%m%d_%H%M%S).sql"
if [ -e "$file" ]; then
  echo "$file exists already; try again in a second." >&2
  exit 1
fi

# Written aside and renamed when complete: a failed dump never looks like a backup.
partial="$file.partial"
trap 'rm -f "$partial"' EXIT
pg_dump --no-owner --no-privileges --dbname="$DATABASE_URL" --file="$partial"
mv "$partial" "$file"
echo "$file"
