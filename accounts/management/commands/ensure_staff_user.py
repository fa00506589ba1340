"""Make sure a staff account exists, for `make run` and first deployments."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create the staff account named by DJANGO_SUPERUSER_USERNAME with "
        "DJANGO_SUPERUSER_PASSWORD if it does not exist; an existing account is left alone "
        "unless --reset-password is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset-password", action="store_true")

    def handle(self, *args, reset_password: bool = False, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if not username or not password:
            raise CommandError("Set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD.")
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is None:
            users.create_superuser(username=username, password=password, email="")
            self.stdout.write(f"Staff account {username!r} created.")
            return
        if reset_password:
            user.set_password(password)
            user.is_staff = user.is_superuser = user.is_active = True
            user.save()
            self.stdout.write(f"Staff account {username!r}: password reset.")
        else:
            self.stdout.write(f"Staff account {username!r} exists; left as it is.")
