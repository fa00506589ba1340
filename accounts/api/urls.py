from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/token/", views.TokenObtainPairView.as_view(), name="token"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
]
