"""Content-Security-Policy on every answer: django-csp's middleware, its policy built once.

django-csp builds the header anew for every answer, the policy and the report-only policy
from the settings: 0.1 ms of a 1 to 2 ms API request (make bench-profile), the costliest
middleware of the stack. An answer that changes nothing of the policy (no nonce used, no
per-view configuration, update, replacement or exemption: every answer of this service but
the dashboards', which set their own header) gets the headers the settings give, built once
per process by django-csp itself; any other goes through django-csp as before.
"""

import http.client
from functools import cache

from csp import middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed

# What a view or decorator may set on an answer or request to change its policy.
CUSTOMISED = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)
DEBUG_PAGES = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)


@cache
def _settings_policies() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(header, policy, excluded path prefixes) of each policy the settings configure."""
    policies = []
    for header, name, report_only in (
        (HEADER, "CONTENT_SECURITY_POLICY", False),
        (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
    ):
        policy = build_policy(report_only=report_only)
        if policy:
            prefixes = (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
            policies.append((header, policy, tuple(prefixes)))
    return tuple(policies)


def _forget_policies(*, setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policies.cache_clear()


setting_changed.connect(_forget_policies, dispatch_uid="addtocart-csp-policies")


class CSPMiddleware(middleware.CSPMiddleware):
    def process_response(self, request, response):
        customised = getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in CUSTOMISED
        )
        if customised or (response.status_code in DEBUG_PAGES and settings.DEBUG):
            return super().process_response(request, response)
        for header, policy, excluded in _settings_policies():
            if header not in response and not request.path_info.startswith(excluded):
                response[header] = policy
        # As django-csp: a nonce asked for once the header is written raises an error.
        request.csp_nonce = middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
