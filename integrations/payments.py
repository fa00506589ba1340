"""The payment service: authorising a checkout attempt's total, asking what became of it,
voiding it.

The contract expected of the service (docs/api.md, "The payment service"):
- `POST /payments` with `Idempotency-Key: <attempt id>` authorises once per key: a repeat
  answers the first outcome and charges nothing more. 2xx with `status` approved (or an
  `authorization_id`) approves; 402, or a `status` of declined, refuses.
- `GET /payments/{key}` answers the outcome of that key: 404 if it never received it.
- `POST /payments/{key}/void` cancels an authorisation (2xx, or 404 when there is none).
"""

from decimal import Decimal
from enum import StrEnum
from urllib.parse import quote
from uuid import UUID

from integrations.errors import PaymentRefused, PaymentUnavailable
from integrations.http import ServiceDown, call, json_of, logger

DECLINED = {"declined", "refused", "rejected", "denied"}
VOIDED = {"voided", "void", "cancelled", "canceled"}
PAYMENT_DOWN = "The payment service is not answering; the cart was not checked out. Try again."


class Outcome(StrEnum):
    """What the payment service says became of a key."""

    AUTHORISED = "authorised"
    REFUSED = "refused"
    ABSENT = "absent"  # never received, or voided: nothing is charged
    UNKNOWN = "unknown"  # it could not say


def _answer(response) -> dict:
    answer = json_of(response)
    return answer if isinstance(answer, dict) else {}


def _refused(status_code: int, answer: dict) -> bool:
    return (
        status_code == 402
        or str(answer.get("status", "")).lower() in DECLINED
        or answer.get("approved") is False
    )


def _authorization_id(answer: dict) -> str:
    return str(answer.get("authorization_id") or answer.get("id") or "")


def payment_authorise(
    *, cart_id: UUID, amount: Decimal, currency: str, idempotency_key: str
) -> str:
    """Ask the payment service to authorise `amount`; returns its authorisation id, if any.

    Raises PaymentRefused on HTTP 402 or a body saying declined, PaymentUnavailable when the
    service cannot answer or answers anything else than an approval (the outcome is then
    unknown: the service may have authorised it).
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
    answer = _answer(response)
    if _refused(response.status_code, answer):
        raise PaymentRefused("The payment was refused; the cart was not checked out.")
    if not response.ok or not answer:
        logger.error(
            "External payment service gave an unusable answer (HTTP %s)", response.status_code
        )
        raise PaymentUnavailable(PAYMENT_DOWN)
    authorization = _authorization_id(answer)
    logger.info("Payment authorised for cart %s (authorisation %r)", cart_id, authorization)
    return authorization


def payment_outcome(*, idempotency_key: str) -> tuple[Outcome, str]:
    """What became of the payment sent with this key, and its authorisation id if any."""
    try:
        response = call("payment", "GET", f"/payments/{quote(idempotency_key, safe='')}")
    except ServiceDown:
        return Outcome.UNKNOWN, ""
    answer = _answer(response)
    if response.status_code == 404:
        return Outcome.ABSENT, ""
    if not response.ok or not answer:
        return Outcome.UNKNOWN, ""
    if str(answer.get("status", "")).lower() in VOIDED:
        return Outcome.ABSENT, ""
    if _refused(response.status_code, answer):
        return Outcome.REFUSED, ""
    return Outcome.AUTHORISED, _authorization_id(answer)


def payment_void(*, idempotency_key: str) -> bool:
    """Cancel the authorisation made with this key; True once nothing is authorised."""
    try:
        response = call("payment", "POST", f"/payments/{quote(idempotency_key, safe='')}/void")
    except ServiceDown:
        return False
    if response.ok:
        logger.warning("Payment %s voided: authorised after its checkout ended", idempotency_key)
    return response.ok or response.status_code == 404
