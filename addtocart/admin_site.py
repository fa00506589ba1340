"""The admin site: Django's, under the service's name, with its login limited like the API's
(addtocart/login_limits.py)."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse

from addtocart.api.throttling import LoginRateThrottle
from addtocart.login_limits import LoginLimited, login_attempt
from addtocart.observability.middleware import client_ip


class AdminSite(admin.AdminSite):
    site_header = "Add-to-Cart admin"  # the bar at the top of every page
    site_title = "Add-to-Cart admin"  # the end of every page's <title>
    index_title = "Site administration"

    def login(self, request, extra_context=None):
        if request.method != "POST":
            return super().login(request, extra_context)
        per_address = LoginRateThrottle()
        if not per_address.allow_request(request, None):
            return self._limited(request, int(per_address.wait()))
        username = request.POST.get("username", "")
        try:
            with login_attempt(
                username=username, address=client_ip(request), where="admin"
            ) as attempt:
                response = super().login(request, extra_context)
                attempt.succeeded = (
                    isinstance(response, HttpResponseRedirect) and request.user.is_staff
                )
        except LoginLimited as limited:
            return self._limited(request, limited.retry_after)
        return response

    def _limited(self, request, retry_after: int) -> TemplateResponse:
        context = {**self.each_context(request), "retry_after": retry_after}
        response = TemplateResponse(request, "admin/login_limited.html", context, status=429)
        response["Retry-After"] = str(retry_after)
        return response
