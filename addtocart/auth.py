"""Sign-up and tokens. Tokens are simplejwt's; this adds registration and the login throttle."""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from addtocart.throttling import LoginRateThrottle
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


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)


class UsernameTaken(serializers.ValidationError):
    def __init__(self) -> None:
        super().__init__({"username": ["This user name cannot be used; choose another."]})


def user_register(*, username: str, password: str, email: str = "") -> Any:
    """Create a shopper's account (never staff)."""
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken()
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, password=password, email=email)
    except IntegrityError:
        raise UsernameTaken() from None


class RegisterView(APIView):
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=RegisterInput,
        responses={201: UserOutput, **problems(400, 413, 415)},
    )
    def post(self, request):
        serializer = RegisterInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    post=extend_schema(responses={200: TokenObtainPairOutput, **problems(400, 401, 413, 415)})
)
class TokenObtainPairView(jwt_views.TokenObtainPairView):
    throttle_classes = [LoginRateThrottle]


@extend_schema_view(
    post=extend_schema(responses={200: TokenRefreshOutput, **problems(400, 401, 413, 415)})
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    pass
