"""Sign-up, tokens and sign-out. Tokens are simplejwt's; this adds registration, sign-out and
the login throttles."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from accounts.api.serializers import (
    LogoutInput,
    RegisterInput,
    RegisterOutput,
    TokenObtainPairOutput,
    TokenRefreshOutput,
    TokenRefreshSerializer,
)
from accounts.services import user_register
from addtocart.api.schema import problems
from addtocart.api.throttling import LoginRateThrottle, LoginUsernameThrottle

REGISTERED = "Registration received. Sign in with this user name and password."


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
