"""Account reads."""

from django.contrib.auth import get_user_model


def user_name_read(*, user_id: int | str) -> str | None:
    """The user name of an active account, or None when it is deactivated or gone."""
    users = get_user_model().objects.filter(pk=user_id, is_active=True)
    return users.values_list("username", flat=True).first()
