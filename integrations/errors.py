"""What the service's callers are told when another service fails them: domain errors with
stable codes, rendered as problems like every other (addtocart/api/problems.py)."""

from addtocart.api.problems import DomainError


class ServiceUnavailable(DomainError):
    """A service the cart depends on did not answer (timeout, connection, 5xx, circuit open)."""

    status = 503
    code = "service_unavailable"
    title = "A service the cart depends on is not answering."


class PaymentUnavailable(ServiceUnavailable):
    code = "payment_unavailable"
    title = "The payment service is not answering."


class PaymentRefused(DomainError):
    status = 402
    code = "payment_refused"
    title = "The payment was refused."
