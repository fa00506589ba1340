"""Content-Security-Policy for the dashboard pages: everything from this origin only.

No inline script or style is allowed, so the pages keep their CSS and JS in static files;
inline SVG is markup, not script, and needs nothing more.
"""

from functools import wraps

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def content_security_policy(view):
    @wraps(view)
    def with_policy(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", POLICY)
        return response

    return with_policy
