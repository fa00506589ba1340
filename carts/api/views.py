"""Thin viewsets: validate the input, call one service or selector, answer the cart."""

from functools import partial

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from addtocart.api.schema import problems
from addtocart.api.serializers import EmptyInput, valid_input
from addtocart.api.throttling import DiscountCodeThrottle
from carts import errors, selectors, services
from carts.api.headers import (
    CART_WRITE_PARAMS,
    IDEMPOTENCY_PARAM,
    IF_MATCH_PARAM,
    MERGED_SESSION_PARAM,
    SESSION_HEADER,
    SESSION_PARAM,
    etags,
    if_match,
)
from carts.api.serializers import (
    ADD_REQUEST,
    CartDetailsInput,
    CartDiscountInput,
    CartItemAddInput,
    CartItemsAddInput,
    CartItemUpdateInput,
    CartOutput,
    CartProblemOutput,
    CheckoutPreviewOutput,
)
from carts.db.document import cart_document
from carts.domain import CartOwner, CartState
from carts.guest_sessions import guest_session_issue, guest_session_verify
from carts.idempotency import NEW_GUEST, idempotent, request_key


class CartViewSet(viewsets.ViewSet):
    """The caller's own cart: a signed-in user's, or a guest's named by `X-Session-ID`."""

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.action == "apply_discount":
            throttles.append(DiscountCodeThrottle())
        return throttles

    def _owner(self, request: Request, *, create_session: bool) -> tuple[CartOwner | None, str]:
        """Return the cart owner and the guest session id to echo ("" for users)."""
        if request.user.is_authenticated:
            return CartOwner(user_id=int(request.user.pk)), ""
        session_id = request.headers.get(SESSION_HEADER, "").strip()
        digest = guest_session_verify(session_id)  # what the cart stores, never the token
        if digest is not None:
            return CartOwner(session_token=digest), session_id
        if not create_session:
            return None, ""
        session_id, digest = guest_session_issue()
        return CartOwner(session_token=digest), session_id

    def _answer(self, state: CartState | None, session_id: str, code: int = 200) -> Response:
        response = Response(cart_document(state, session_id=session_id or None), status=code)
        if state is not None:
            response["ETag"] = state.etag
        if session_id:
            response[SESSION_HEADER] = session_id
        return response

    def _write(
        self, request: Request, change, code: int = 200, retryable: bool = False, atomic=True
    ):
        """Apply a change to the caller's cart; `retryable` honours `Idempotency-Key`
        (`atomic` False for a change that commits in phases: checkout). A change refused
        because an expired checkout holds the cart ends it first (`services.cart_change`)."""
        owner, session_id = self._owner(request, create_session=True)

        def work() -> Response:
            return self._answer(change(owner, if_match(request)), session_id, code)

        def work_once() -> Response:
            """Per Idempotency-Key; a guest's first write (its session just issued) is kept
            under `new-guest`, so that a retry of it without the session is recognised. A
            replay is given back the session id the request sent (none is stored)."""
            issued = session_id not in ("", request.headers.get(SESSION_HEADER, "").strip())
            return idempotent(
                request=request,
                owner_key=NEW_GUEST if issued else owner.key,
                work=work,
                atomic=atomic,
                session_id="" if issued else session_id,
            )

        return services.cart_change(owner=owner, change=work_once if retryable else work)

    @extend_schema(
        summary="Read the cart",
        parameters=[SESSION_PARAM],
        responses={200: CartOutput, 304: None, **problems(401)},
    )
    def retrieve(self, request: Request) -> Response:
        owner, session_id = self._owner(request, create_session=False)
        state = selectors.cart_get_active_with_lines(owner=owner) if owner else None
        if state is None and owner is not None:
            state = services.cart_resume(owner=owner)
        if state is not None and state.etag in (etags(request, "If-None-Match") or []):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": state.etag})
        return self._answer(state, session_id)

    @extend_schema(
        summary="Add one product, or several at once",
        request=ADD_REQUEST,
        parameters=[*CART_WRITE_PARAMS, IDEMPOTENCY_PARAM],
        responses={201: CartOutput, **problems(400, 401, 404, 409, 412, 413, 415, 422)},
    )
    def add_item(self, request: Request) -> Response:
        """One product (`product_id`), or several at once (`items`): all of them or none."""
        if isinstance(request.data, dict) and "items" in request.data:
            items = valid_input(CartItemsAddInput, request)["items"]
            add = partial(services.cart_items_add, items=items)
        else:
            add = partial(services.cart_item_add, **valid_input(CartItemAddInput, request))
        return self._write(
            request,
            lambda owner, if_match: add(owner=owner, if_match=if_match),
            code=201,
            retryable=True,
        )

    @extend_schema(
        summary="Change a line's quantity",
        request=CartItemUpdateInput,
        parameters=CART_WRITE_PARAMS,
        responses={200: CartOutput, **problems(400, 401, 404, 409, 412, 413, 415)},
    )
    def update_item(self, request: Request, item_id: int) -> Response:
        data = valid_input(CartItemUpdateInput, request)
        return self._write(
            request,
            lambda owner, if_match: services.cart_item_update(
                owner=owner, item_id=item_id, if_match=if_match, **data
            ),
        )

    @extend_schema(
        summary="Remove a line",
        parameters=CART_WRITE_PARAMS,
        responses={200: CartOutput, **problems(401, 404, 409, 412)},
    )
    def remove_item(self, request: Request, item_id: int) -> Response:
        return self._write(
            request,
            lambda owner, if_match: services.cart_item_remove(
                owner=owner, item_id=item_id, if_match=if_match
            ),
        )

    @extend_schema(
        summary="Save a line for later",
        auth=[{"jwtAuth": []}],
        request=EmptyInput,
        parameters=[IF_MATCH_PARAM, IDEMPOTENCY_PARAM],
        responses={200: CartOutput, **problems(400, 401, 404, 409, 412, 413, 415, 422)},
    )
    def save_for_later(self, request: Request, item_id: int) -> Response:
        """Move a line into the signed-in shopper's saved items (`GET saved-items/`)."""
        if not request.user.is_authenticated:
            raise errors.SignInToSave()
        valid_input(EmptyInput, request)
        return self._write(
            request,
            lambda owner, if_match: services.saved_item_save(
                owner=owner, item_id=item_id, if_match=if_match
            ),
            retryable=True,
        )

    @extend_schema(
        summary="Set the cart's email and note",
        request=CartDetailsInput,
        parameters=CART_WRITE_PARAMS,
        responses={200: CartOutput, **problems(400, 401, 409, 412, 413, 415)},
    )
    def update_details(self, request: Request) -> Response:
        data = valid_input(CartDetailsInput, request)
        return self._write(
            request,
            lambda owner, if_match: services.cart_details_update(
                owner=owner, fields=data, if_match=if_match
            ),
        )

    @extend_schema(
        summary="Empty the cart",
        parameters=CART_WRITE_PARAMS,
        responses={200: CartOutput, **problems(401, 409, 412)},
    )
    def clear(self, request: Request) -> Response:
        owner, session_id = self._owner(request, create_session=False)
        if owner is None:
            return self._answer(None, session_id)
        state = services.cart_change(
            owner=owner, change=lambda: services.cart_clear(owner=owner, if_match=if_match(request))
        )
        return self._answer(state, session_id)

    @extend_schema(
        summary="Check out",
        request=EmptyInput,
        parameters=[*CART_WRITE_PARAMS, IDEMPOTENCY_PARAM],
        responses={
            200: CartOutput,
            **problems(400, 401, 402, 412, 413, 415, 422),
            **problems(409, output=CartProblemOutput),
        },
    )
    def checkout(self, request: Request) -> Response:
        valid_input(EmptyInput, request)
        key = request_key(request)
        return self._write(
            request,
            lambda owner, if_match: services.cart_checkout(
                owner=owner, if_match=if_match, request_key=key
            ),
            retryable=True,
            atomic=False,
        )

    @extend_schema(
        summary="Preview the checkout",
        request=EmptyInput,
        parameters=[SESSION_PARAM],
        responses={200: CheckoutPreviewOutput, **problems(400, 401, 409, 413, 415)},
    )
    def preview_checkout(self, request: Request) -> Response:
        valid_input(EmptyInput, request)
        owner, _ = self._owner(request, create_session=False)
        if owner is None:
            raise errors.CartEmpty("You have no cart to check out.")
        preview = services.checkout_preview(owner=owner)
        return Response(CheckoutPreviewOutput(preview).data)

    @extend_schema(
        summary="Apply a discount code",
        request=CartDiscountInput,
        parameters=[*CART_WRITE_PARAMS, IDEMPOTENCY_PARAM],
        responses={
            200: CartOutput,
            **problems(400, 401, 412, 413, 415),
            **problems(409, 422, output=CartProblemOutput),
        },
    )
    def apply_discount(self, request: Request) -> Response:
        data = valid_input(CartDiscountInput, request)
        return self._write(
            request,
            lambda owner, if_match: services.cart_discount_apply(
                owner=owner, if_match=if_match, **data
            ),
            retryable=True,
        )

    @extend_schema(
        summary="Remove a discount code",
        parameters=CART_WRITE_PARAMS,
        responses={200: CartOutput, **problems(401, 404, 409, 412)},
    )
    def remove_discount(self, request: Request, code: str) -> Response:
        return self._write(
            request,
            lambda owner, if_match: services.cart_discount_remove(
                owner=owner, code=code, if_match=if_match
            ),
        )

    @extend_schema(
        summary="Merge a guest's cart into yours",
        request=EmptyInput,
        parameters=[MERGED_SESSION_PARAM, IF_MATCH_PARAM],
        responses={200: CartOutput, **problems(400, 401, 409, 412, 413, 415, 422)},
    )
    def merge(self, request: Request) -> Response:
        valid_input(EmptyInput, request)
        if not request.user.is_authenticated:
            self.permission_denied(request, "Sign in to merge a guest cart into yours.")
        if not request.headers.get(SESSION_HEADER):
            raise ValidationError({SESSION_HEADER: ["Send the guest's session id."]})
        state = services.cart_merge(
            user_id=int(request.user.pk),
            session_token=guest_session_verify(request.headers[SESSION_HEADER]),
            if_match=if_match(request),
        )
        return self._answer(state, "")
