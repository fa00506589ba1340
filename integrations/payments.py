"""The payment service: authorising a cart's total."""

from decimal import Decimal
from uuid import UUID

from integrations.errors import PaymentRefused, PaymentUnavailable
from integrations.http import ServiceDown, call, json_of, logger

DECLINED = {"declined", "refused", "rejected", "denied"}
PAYMENT_DOWN = "The payment service is not answering; the cart was not checked out. Try again."


def payment_authorise(
    *, cart_id: UUID, amount: Decimal, currency: str, idempotency_key: str
) -> str:
    """Ask the payment service to authorise `amount`; returns its authorisation id, if any.

    Raises PaymentRefused on HTTP 402 or a body saying declined, PaymentUnavailable when the
    service cannot answer or answers anything else than an approval.
    """
    body = {
        "cart_id": str(cart_id),
        "amount": f"{amount:.2f}",
        "currency": currency,
        "idempotency_key": idempotency_key,
    }
    try:
        response = call(
            "payment", "POST", "/payments", json=body, headers={"Idempotency-Key": idempotency_key}
        )
    except ServiceDown:
        raise PaymentUnavailable(PAYMENT_DOWN) from None
    answer = json_of(response)
    if not isinstance(answer, dict):
        answer = {}
    if (
        response.status_code == 402
        or str(answer.get("status", "")).lower() in DECLINED
        or answer.get("approved") is False
    ):
        raise PaymentRefused("The payment was refused; the cart was not checked out.")
    if not response.ok or not answer:
        logger.error(
            "External payment service gave an unusable answer (HTTP %s)", response.status_code
        )
        raise PaymentUnavailable(PAYMENT_DOWN)
    authorization = str(answer.get("authorization_id") or answer.get("id") or "")
    logger.info("Payment authorised for cart %s (authorisation %r)", cart_id, authorization)
    return authorization
