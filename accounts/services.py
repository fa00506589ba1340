"""Account rules."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.errors import NewPasswordRejected, WrongPassword
from carts.errors import AccountInactive


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


def user_password_change(*, user_id: int, current_password: str, new_password: str) -> None:
    """Change a shopper's password, checked against Django's validators.

    Every refresh token issued before stops working: tokens carry a digest of the password
    hash (SIMPLE_JWT's CHECK_REVOKE_TOKEN), which no longer matches.
    """
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().filter(pk=user_id).first()
        if user is None or not user.is_active:
            raise AccountInactive()
        if not user.check_password(current_password):
            raise WrongPassword()
        try:
            validate_password(new_password, user=user)
        except ValidationError as exc:
            raise NewPasswordRejected(errors={"new_password": list(exc.messages)}) from None
        user.set_password(new_password)
        user.save(update_fields=["password"])


def user_sessions_end(*, user_id: int) -> int:
    """Revoke every refresh token of the user still able to refresh (sign out everywhere);
    return how many. Access tokens already issued run out within ACCESS_TOKEN_LIFETIME."""
    with transaction.atomic():
        live = OutstandingToken.objects.filter(
            user_id=user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
        )
        revoked = [BlacklistedToken(token=token) for token in live]
        BlacklistedToken.objects.bulk_create(revoked, ignore_conflicts=True)
    return len(revoked)
