"""The accounts' errors, each with a stable machine-readable `code`."""

from addtocart.api.problems import DomainError


class WrongPassword(DomainError):
    status = 400
    code = "wrong_password"
    title = "The current password is not right."


class NewPasswordRejected(DomainError):
    """Django's password validators refused the new password; `errors` says why."""

    status = 400
    code = "invalid"
    title = "The request is not valid; see `errors`."
