"""Sign-up, tokens and sign-out. Tokens are simplejwt's; this adds registration, sign-out and
the login throttles."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import views as jwt_views

from addtocart.throttling import LoginRateThrottle, LoginUsernameThrottle
from carts.serializers import StrictInputSerializer
from carts.views import problems

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


class TokenObtainPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenRefreshOutput(TokenObtainPairOutput):
    """The refresh token is rotated: use the new one next time; the old one is revoked."""


class RegisterOutput(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    detail = serializers.CharField()


REGISTERED = "Registration received. Sign in with this user name and password."


def user_register(*, username: str, password: str, email: str = "") -> None:
    """Create a shopper's account (never staff), unless the name is taken.

    Either way the caller gets the same answer after about the same time (the password is
    hashed in both cases), so sign-up does not reveal which user names exist.
    """
    if User.objects.filter(username__iexact=username).exists():
        make_password(password)
        return
    try:
        with transaction.atomic():
            User.objects.create_user(username=username, password=password, email=email)
    except IntegrityError:
        pass  # taken by a concurrent sign-up: same answer


class RegisterView(APIView):
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=RegisterInput,
        responses={201: RegisterOutput, **problems(400, 413, 415)},
        description="Always answers 201 for a valid request, whether or not the user name "
        "was free (sign-up does not reveal which names exist): sign in to find out.",
    )
    def post(self, request):
        serializer = RegisterInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_register(**serializer.validated_data)
        data = serializer.validated_data
        body = {"username": data["username"], "email": data["email"], "detail": REGISTERED}
        return Response(RegisterOutput(body).data, status=status.HTTP_201_CREATED)


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """simplejwt's, but a refresh token of a deleted account is a 401, not a 500."""

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except User.DoesNotExist:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from None


class LogoutInput(StrictInputSerializer):
    refresh = serializers.CharField()


@extend_schema_view(
    post=extend_schema(responses={200: TokenObtainPairOutput, **problems(400, 401, 413, 415)})
)
class TokenObtainPairView(jwt_views.TokenObtainPairView):
    """Throttled per client IP and per user name tried."""

    throttle_classes = [LoginRateThrottle, LoginUsernameThrottle]


@extend_schema_view(
    post=extend_schema(responses={200: TokenRefreshOutput, **problems(400, 401, 413, 415)})
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    serializer_class = TokenRefreshSerializer


class LogoutView(jwt_views.TokenBlacklistView):
    """Revoke a refresh token: it can no longer be refreshed. Access tokens expire soon."""

    @extend_schema(request=LogoutInput, responses={204: None, **problems(400, 401, 413, 415)})
    def post(self, request, *args, **kwargs):
        LogoutInput(data=request.data).is_valid(raise_exception=True)
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)
