"""Sign-up, token and sign-out bodies."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from addtocart.api.serializers import StrictInputSerializer

User = get_user_model()


class RegisterInput(StrictInputSerializer):
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("email", "")
        candidate = User(username=attrs["username"], email=attrs["email"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs


class RegisterOutput(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    detail = serializers.CharField()


class TokenObtainPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenRefreshOutput(TokenObtainPairOutput):
    """The refresh token is rotated: use the new one next time; the old one is revoked."""


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's, but refused (401) for a deleted or deactivated account, and for a token
    issued before the account's password last changed: the digest of the password hash it
    carries (CHECK_REVOKE_TOKEN) no longer matches. simplejwt checks that digest only when
    authenticating with an access token against the database, which this service does not."""

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])
        user_id = refresh.payload.get(jwt_settings.USER_ID_CLAIM)
        user = User.objects.filter(pk=user_id).first() if user_id else None
        if user is None or not user.is_active:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            )
        digest = refresh.payload.get(jwt_settings.REVOKE_TOKEN_CLAIM)
        if digest != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                "The password changed since this token was issued: sign in again.",
                "password_changed",
            )
        return super().validate(attrs)


class LogoutInput(StrictInputSerializer):
    refresh = serializers.CharField(required=False)
    all = serializers.BooleanField(
        default=False,
        help_text="Sign out every session of the caller: every refresh token of the account "
        "is revoked. Needs the access token (`Authorization: Bearer`) or a refresh token.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        request = self.context["request"]
        if "refresh" not in attrs and not (attrs["all"] and request.user.is_authenticated):
            raise serializers.ValidationError(
                {"refresh": ["This field is required (or send `all: true` with an access token)."]}
            )
        return attrs


class PasswordChangeInput(StrictInputSerializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)
