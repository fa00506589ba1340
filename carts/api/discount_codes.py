"""`/api/v1/discount-codes/`: staff write, list and retire discount codes."""

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response

from addtocart.api.permissions import IsStaff
from addtocart.api.schema import problems
from carts import selectors, services
from carts.api.discount_code_serializers import DiscountCodeInput, DiscountCodeOutput
from carts.api.filters import DiscountCodeFilter
from carts.models import DiscountCode

DELETE_DESCRIPTION = (
    "Deletes a code no cart ever held: 204, no body. A code that was used, is held by a "
    "checkout in progress, or sits on a cart is deactivated instead (`is_active: false`), so "
    "that its history stays: 200 with the code."
)


def _input(request: Request, *, partial: bool = False) -> tuple[dict, list[int] | None]:
    """The validated fields, and the product ids apart (None: leave the products alone)."""
    serializer = DiscountCodeInput(
        data=request.data if request.data is not None else {}, partial=partial
    )
    serializer.is_valid(raise_exception=True)
    fields = dict(serializer.validated_data)
    return fields, fields.pop("product_ids", None)


@extend_schema_view(
    list=extend_schema(
        summary="List the discount codes (staff)",
        responses={200: DiscountCodeOutput(many=True), **problems(400, 401, 403, 404)},
        description="Every code, newest first; `search` finds codes containing the text "
        "(any case).",
    ),
    retrieve=extend_schema(
        summary="Read a discount code (staff)",
        responses={200: DiscountCodeOutput, **problems(401, 403, 404)},
    ),
)
class DiscountCodeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = DiscountCodeOutput
    permission_classes = [IsStaff]
    filter_backends = [filters.DjangoFilterBackend, SearchFilter]
    filterset_class = DiscountCodeFilter
    search_fields = ["code"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> QuerySet[DiscountCode]:
        return selectors.discount_code_list()

    @extend_schema(
        summary="Create a discount code (staff)",
        request=DiscountCodeInput,
        responses={201: DiscountCodeOutput, **problems(400, 401, 403, 409)},
        description="A duplicate of an existing code in any case is 409 `discount_code_taken`; "
        "a code breaking its rules, or naming unknown products, is 400 with `errors`.",
    )
    def create(self, request: Request) -> Response:
        fields, product_ids = _input(request)
        code = services.discount_code_create(fields=fields, product_ids=product_ids)
        return Response(DiscountCodeOutput(code).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a discount code (staff)",
        request=DiscountCodeInput,
        responses={200: DiscountCodeOutput, **problems(400, 401, 403, 404, 409)},
        description="Change any fields; carts holding the code see the change at once "
        "(checked-out carts keep what they were charged). `product_ids` replaces the list.",
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        fields, product_ids = _input(request, partial=True)
        code = services.discount_code_update(
            code_id=int(pk), fields=fields, product_ids=product_ids
        )
        return Response(DiscountCodeOutput(code).data)

    @extend_schema(
        summary="Delete a discount code, or deactivate a used one (staff)",
        responses={200: DiscountCodeOutput, 204: None, **problems(401, 403, 404)},
        description=DELETE_DESCRIPTION,
    )
    def destroy(self, request: Request, pk: str) -> Response:
        code = services.discount_code_delete(code_id=int(pk))
        if code is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(DiscountCodeOutput(code).data)
