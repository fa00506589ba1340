"""Staff's discount codes: writing one, a batch of single-use ones, and retiring one.

A code's rules (a percentage from 0.01 to 100, a fixed amount with its currency, an end after
its start, one spelling whatever the case) are the model's constraints, checked here before
saving so that the API and the admin refuse the same codes with the same messages.
"""

import secrets
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from carts import errors
from carts.models import CartDiscount, DiscountCode, Product

# No 0/O, 1/I/L: codes are read aloud and typed from print.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BATCH_MAX = 10_000


def _products(product_ids: list[int]) -> list[Product]:
    products = list(Product.objects.filter(pk__in=product_ids))
    missing = sorted(set(product_ids) - {product.pk for product in products})
    if missing:
        raise errors.DiscountCodeRejected(
            "Some products do not exist.", errors={"product_ids": [f"No product {missing}."]}
        )
    return products


def _save(code: DiscountCode, product_ids: list[int] | None) -> DiscountCode:
    try:
        code.full_clean()
    except ValidationError as invalid:
        found = invalid.error_dict.get(NON_FIELD_ERRORS, [])
        if any(error.code == "discount_code_taken" for error in found):
            raise errors.DiscountCodeTaken(f"A code {code.code!r} exists.") from None
        messages = dict(invalid.message_dict)
        if NON_FIELD_ERRORS in messages:  # named as DRF names them, as the API's other errors
            messages["non_field_errors"] = messages.pop(NON_FIELD_ERRORS)
        raise errors.DiscountCodeRejected(
            "The discount code is not valid; see `errors`.", errors=messages
        ) from None
    products = _products(product_ids) if product_ids is not None else None
    try:
        with transaction.atomic():
            code.save()
    except IntegrityError:
        if DiscountCode.objects.filter(code__iexact=code.code).exclude(pk=code.pk).exists():
            raise errors.DiscountCodeTaken(f"A code {code.code!r} exists.") from None
        raise
    if products is not None:
        code.products.set(products)
    return code


@transaction.atomic
def discount_code_create(
    *, fields: dict[str, Any], product_ids: list[int] | None = None
) -> DiscountCode:
    return _save(DiscountCode(**fields), product_ids)


@transaction.atomic
def discount_code_update(
    *, code_id: int, fields: dict[str, Any], product_ids: list[int] | None = None
) -> DiscountCode:
    """Change a code; carts holding it show the change at once (checked-out ones keep what
    they were charged)."""
    code = DiscountCode.objects.select_for_update().filter(pk=code_id).first()
    if code is None:
        raise errors.NotFound(f"There is no discount code {code_id}.")
    for field, value in fields.items():
        setattr(code, field, value)
    return _save(code, product_ids)


@transaction.atomic
def discount_code_delete(*, code_id: int) -> DiscountCode | None:
    """Delete a code no cart ever held; one that was used or is on a cart is deactivated
    instead (and returned), so that its history stays."""
    code = DiscountCode.objects.select_for_update().filter(pk=code_id).first()
    if code is None:
        raise errors.NotFound(f"There is no discount code {code_id}.")
    if code.times_used or code.uses_held or CartDiscount.objects.filter(code=code).exists():
        code.is_active = False
        code.save(update_fields=["is_active", "updated_at"])
        return code
    code.delete()
    return None


def _random_code(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


@transaction.atomic
def discount_code_batch_create(
    *,
    prefix: str,
    count: int,
    fields: dict[str, Any],
    product_ids: list[int] | None = None,
    length: int = 10,
) -> str:
    """`count` new single-use codes, `prefix` followed by `length` random letters and digits,
    each otherwise as `fields` say; returns the batch's name (to list or export them)."""
    if not 1 <= count <= BATCH_MAX:
        raise errors.DiscountCodeRejected(
            "Too many or too few codes.", errors={"count": [f"From 1 to {BATCH_MAX}."]}
        )
    batch = f"{prefix.rstrip('-_') or 'batch'}-{timezone.now():%Y%m%d%H%M%S}"
    single_use = {**fields, "max_uses": 1, "batch": batch}
    template = DiscountCode(**single_use, code=_random_code(prefix, length))
    _save(template, product_ids)  # checks the terms once, and is the first of the batch
    products = list(template.products.all())
    made = 1
    while made < count:
        wanted = {_random_code(prefix, length) for _ in range(count - made)}
        taken = set(DiscountCode.objects.filter(code__in=wanted).values_list("code", flat=True))
        new = [DiscountCode(**single_use, code=code) for code in wanted - taken]
        created = DiscountCode.objects.bulk_create(new)
        if products:
            links = DiscountCode.products.through
            links.objects.bulk_create(
                links(discountcode_id=code.pk, product_id=product.pk)
                for code in created
                for product in products
            )
        made += len(created)
    return batch
