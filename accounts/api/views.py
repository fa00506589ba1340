"""Sign-up, tokens, password change and sign-out. Tokens are simplejwt's; this adds
registration, sign-out everywhere, the password change and the login limits."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.api.serializers import (
    LogoutInput,
    PasswordChangeInput,
    RegisterInput,
    RegisterOutput,
    TokenObtainPairOutput,
    TokenRefreshOutput,
    TokenRefreshSerializer,
)
from accounts.errors import WrongPassword
from accounts.selectors import user_name_read
from accounts.services import user_password_change, user_register, user_sessions_end
from addtocart.api.schema import problems
from addtocart.api.throttling import LoginRateThrottle
from addtocart.login_limits import LoginLimited, login_attempt
from addtocart.observability.middleware import client_ip
from carts.errors import AccountInactive

REGISTERED = "Registration received. Sign in with this user name and password."


class RegisterView(APIView):
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        summary="Create an account",
        auth=[],  # public: no token, so no lock in the docs
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


def _username_of(request) -> str | None:
    username = request.data.get("username") if isinstance(request.data, dict) else None
    return username if isinstance(username, str) and username else None


@extend_schema_view(
    post=extend_schema(
        summary="Sign in: get an access token and a refresh token",
        auth=[],
        responses={200: TokenObtainPairOutput, **problems(400, 401, 413, 415)},
        description="Limited per client address (every attempt), and per user name: failures "
        "at one address, and failures from addresses the name never signed in from. A limited "
        "attempt answers 429 with `Retry-After` before the password is checked.",
    )
)
class TokenObtainPairView(jwt_views.TokenObtainPairView):
    throttle_classes = [LoginRateThrottle]

    def post(self, request, *args, **kwargs):
        username = _username_of(request)
        if username is None:
            return super().post(request, *args, **kwargs)  # 400: the serializer says why
        try:
            with login_attempt(
                username=username, address=client_ip(request), where="token"
            ) as attempt:
                try:
                    response = super().post(request, *args, **kwargs)
                except AuthenticationFailed:
                    attempt.succeeded = False
                    raise
                attempt.succeeded = response.status_code == 200
        except LoginLimited as limited:
            raise Throttled(wait=limited.retry_after) from None
        return response


@extend_schema_view(
    post=extend_schema(
        summary="Get a new access token for a refresh token",
        auth=[],
        responses={200: TokenRefreshOutput, **problems(400, 401, 413, 415)},
    )
)
class TokenRefreshView(jwt_views.TokenRefreshView):
    serializer_class = TokenRefreshSerializer


class PasswordChangeView(APIView):
    """The caller's new password. Every refresh token issued before stops working, this
    session's included: sign in again with the new password."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        summary="Change your password",
        request=PasswordChangeInput,
        responses={204: None, **problems(400, 401, 413, 415, 429)},
        description="A wrong `current_password` answers 400 `wrong_password` and counts "
        "against the login limits like a failed sign-in.",
    )
    def post(self, request):
        serializer = PasswordChangeInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = user_name_read(user_id=request.user.id)
        if username is None:
            raise AccountInactive()
        try:
            with login_attempt(
                username=username,
                address=client_ip(request),
                where="password_change",
            ) as attempt:
                try:
                    user_password_change(user_id=request.user.id, **serializer.validated_data)
                except WrongPassword:
                    attempt.succeeded = False
                    raise
                attempt.succeeded = True
        except LoginLimited as limited:
            raise Throttled(wait=limited.retry_after) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutView(APIView):
    """Revoke a refresh token, or with `all` every one of the caller's: they can no longer
    be refreshed. Access tokens run out within their lifetime (JWT_ACCESS_MINUTES)."""

    @extend_schema(
        summary="Sign out: revoke a refresh token, or all of yours",
        request=LogoutInput,
        responses={204: None, **problems(400, 401, 413, 415)},
    )
    def post(self, request):
        serializer = LogoutInput(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            refresh = RefreshToken(data["refresh"]) if "refresh" in data else None
        except TokenError as error:
            raise InvalidToken(error.args[0]) from None
        if data["all"]:
            user_id = request.user.id if request.user.is_authenticated else None
            user_sessions_end(user_id=user_id or refresh.payload[jwt_settings.USER_ID_CLAIM])
        else:
            refresh.blacklist()
        return Response(status=status.HTTP_204_NO_CONTENT)
