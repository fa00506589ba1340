#!/bin/sh
# The image's entrypoint. With no arguments it serves: `exec` makes gunicorn's master the
# container's main process, so it receives SIGTERM itself and stops gracefully (it also reaps
# its workers). With arguments it runs them instead, e.g. `python manage.py migrate --no-input`.
set -eu
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
exec gunicorn -c addtocart/gunicorn.conf.py addtocart.wsgi
