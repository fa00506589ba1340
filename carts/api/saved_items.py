"""A signed-in shopper's saved items: list them, delete one, move one back to the cart.
(Saving a line is an action on the cart: `POST cart/items/{item_id}/save-for-later/`.)"""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from addtocart.api.schema import problems
from addtocart.api.serializers import EmptyInput, MoneyField, valid_input
from carts import errors, selectors, services
from carts.api.headers import IDEMPOTENCY_PARAM, IF_MATCH_PARAM, if_match
from carts.api.serializers import CartOutput, LineAttributesField, ProductRefOutput
from carts.db.document import cart_document
from carts.domain import CartOwner
from carts.idempotency import idempotent
from carts.models import SavedItem


class SignedIn(permissions.BasePermission):
    """Saved items belong to signed-in shoppers: a guest is told to sign in (401)."""

    def has_permission(self, request: Request, view) -> bool:
        if not request.user.is_authenticated:
            raise errors.SignInToSave()
        return True


class SavedItemOutput(serializers.ModelSerializer):
    """A saved item, with its product's price and availability as they are now."""

    product = ProductRefOutput()
    attributes = LineAttributesField(help_text="{} when none.")
    unit_price = MoneyField(source="product.price", help_text="The product's current price.")
    currency = serializers.CharField(source="product.currency")
    available = serializers.BooleanField(
        read_only=True, help_text="The product is for sale with stock for `quantity` units."
    )

    class Meta:
        model = SavedItem
        fields = [
            "id",
            "product",
            "attributes",
            "quantity",
            "unit_price",
            "currency",
            "available",
            "created_at",
        ]


class SavedItemViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's saved items."""

    serializer_class = SavedItemOutput
    permission_classes = [SignedIn]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, building the schema
            return SavedItem.objects.none()
        return selectors.saved_items_read(user_id=int(self.request.user.pk))

    @extend_schema(
        summary="List your saved items",
        responses={200: SavedItemOutput(many=True), **problems(401, 404)},
    )
    def list(self, request: Request) -> Response:
        """The caller's saved items, newest first, paginated as the catalog is."""
        return super().list(request)

    @extend_schema(summary="Remove a saved item", responses={204: None, **problems(401, 404)})
    def destroy(self, request: Request, pk: str) -> Response:
        """Remove a saved item."""
        services.saved_item_delete(user_id=int(request.user.pk), saved_item_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Move a saved item to the cart",
        request=EmptyInput,
        parameters=[IF_MATCH_PARAM, IDEMPOTENCY_PARAM],
        responses={200: CartOutput, **problems(400, 401, 404, 409, 412, 413, 415, 422)},
    )
    @action(detail=True, methods=["post"], url_path="move-to-cart")
    def move_to_cart(self, request: Request, pk: str) -> Response:
        """Add the saved item to the cart as `POST cart/items/` adds (its rules and limits)
        and remove it from the saved items; answers the cart. Refused, the item stays."""
        valid_input(EmptyInput, request)
        owner = CartOwner(user_id=int(request.user.pk))

        def work() -> Response:
            state = services.saved_item_move_to_cart(
                owner=owner, saved_item_id=int(pk), if_match=if_match(request)
            )
            return Response(cart_document(state), headers={"ETag": state.etag})

        return services.cart_change(
            owner=owner,
            change=lambda: idempotent(request=request, owner_key=owner.key, work=work),
        )
