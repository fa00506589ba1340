"""Who may call what. Staff rights come from the database, never from a token claim."""

from django.contrib.auth import get_user_model
from rest_framework import permissions
from rest_framework.request import Request


def is_staff(request: Request) -> bool:
    """An active staff account (one query: a token outlives a demotion)."""
    return bool(
        request.user.is_authenticated
        and get_user_model()
        .objects.filter(pk=request.user.pk, is_staff=True, is_active=True)
        .exists()
    )


class IsStaff(permissions.BasePermission):
    def has_permission(self, request, view):
        return is_staff(request)


class IsStaffOrReadOnly(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or is_staff(request)
