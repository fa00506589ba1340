"""`manage.py clear_login_limits <username>`: lift a user name's login limits at once."""

from django.core.management.base import BaseCommand, CommandError

from addtocart.login_limits import login_limits_clear


class Command(BaseCommand):
    help = "Forget the failed sign-ins counted against a user name, at every address."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        if not login_limits_clear(username=username):
            raise CommandError(
                "The login limits are counted in Redis only when REDIS_URL is set; without it "
                "each server process keeps its own, until the process or the window ends."
            )
        self.stdout.write(f"Cleared the login limits of {username!r}.")
