#!/usr/bin/env bash
# `make restore FILE=backups/backup_YYYYmmdd_HHMMSS.sql`: load a backup made by `make backup`
# into the database at $DATABASE_URL, in one transaction (any error: nothing is changed).
#
# The database must be empty (no table outside PostgreSQL's own schemas), e.g. just made with
# `createdb`. FORCE=1 restores over a database that is not: its public schema is dropped and
# recreated first, in the same transaction, so the result is the backup exactly.
# Afterwards: ANALYZE, so the planner has statistics at once.
set -euo pipefail

file="${1:-${FILE:-}}"
if [ -z "$file" ]; then
  echo "Usage: make restore FILE=backups/backup_YYYYmmdd_HHMMSS.sql [FORCE=1]" >&2
  exit 2
fi
[ -r "$file" ] || { echo "Cannot read $file." >&2; exit 2; }
: "${DATABASE_URL:?Set DATABASE_URL to the database to restore into.}"

psql_() { psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 --dbname="$DATABASE_URL" "$@"; }

tables="$(psql_ --tuples-only --no-align -c "SELECT count(*) FROM pg_catalog.pg_tables
  WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")"
reset=()
if [ "$tables" != "0" ]; then
  if [ "${FORCE:-0}" != "1" ]; then
    echo "Refusing to restore: the database holds $tables table(s). Restore into an empty" >&2
    echo "database, or run again with FORCE=1 to replace everything in it." >&2
    exit 1
  fi
  echo "FORCE=1: replacing the $tables table(s) in the database."
  reset=(-c "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
fi

# The dump's own SELECTs (set_config, setval) print rows: only errors are worth showing.
psql_ --single-transaction ${reset[@]+"${reset[@]}"} -f "$file" >/dev/null
psql_ -c "ANALYZE"
echo "Restored $file."
