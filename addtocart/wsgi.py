import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "addtocart.settings")

application = get_wsgi_application()
# Import every view now: gunicorn loads this module once, before it forks the workers
# (preload_app), so no worker pays for the imports on its first request.
get_resolver().url_patterns  # noqa: B018
