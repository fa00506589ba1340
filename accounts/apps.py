from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Shoppers' and staff accounts: Django's users, with sign-up, tokens and sign-out."""

    name = "accounts"
