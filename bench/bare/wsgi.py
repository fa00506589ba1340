import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare.settings")

application = get_wsgi_application()
# Import the views before gunicorn forks (preload_app), as addtocart/wsgi.py does.
get_resolver().url_patterns  # noqa: B018
