"""Account rules."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction


def user_register(*, username: str, password: str, email: str = "") -> None:
    """Create a shopper's account (never staff), unless the name is taken.

    Either way the caller gets the same answer after about the same time (the password is
    hashed in both cases), so sign-up does not reveal which user names exist.
    """
    users = get_user_model().objects
    if users.filter(username__iexact=username).exists():
        make_password(password)
        return
    try:
        with transaction.atomic():
            users.create_user(username=username, password=password, email=email)
    except IntegrityError:
        pass  # taken by a concurrent sign-up: same answer
