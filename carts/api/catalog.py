"""The catalog: everyone reads the products for sale; staff change them."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.filters import SearchFilter
from rest_framework.request import Request
from rest_framework.response import Response

from addtocart.api.caching import public_answer
from addtocart.api.permissions import IsStaffOrReadOnly, is_staff
from addtocart.api.schema import OPTIONAL_AUTH, problems
from addtocart.api.serializers import valid_input
from carts import selectors, services
from carts.api.serializers import ProductInput, ProductSerializer


class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The catalog. Everyone reads the products for sale; staff see and change all."""

    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filter_backends = [SearchFilter]
    search_fields = ["name", "sku"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return selectors.product_list(include_inactive=is_staff(self.request))

    @extend_schema(
        summary="List the products",
        auth=OPTIONAL_AUTH,
        responses={200: ProductSerializer(many=True), **problems(400, 404)},
    )
    def list(self, request: Request) -> Response:
        return public_answer(request, super().list(request))

    @extend_schema(
        summary="Read a product",
        auth=OPTIONAL_AUTH,
        responses={200: ProductSerializer, **problems(404)},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return public_answer(request, super().retrieve(request, pk=pk))

    @extend_schema(
        summary="Create a product (staff)",
        request=ProductInput,
        responses={201: ProductSerializer, **problems(400, 401, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        data = valid_input(ProductInput, request)
        product = services.product_create(**data)
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a product (staff)",
        request=ProductInput,
        responses={200: ProductSerializer, **problems(400, 401, 403, 404, 409)},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        serializer = ProductInput(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        product = services.product_update(product_id=int(pk), fields=serializer.validated_data)
        return Response(ProductSerializer(product).data)

    @extend_schema(
        summary="Delete a product (staff)", responses={204: None, **problems(401, 403, 404, 409)}
    )
    def destroy(self, request: Request, pk: str) -> Response:
        services.product_delete(product_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
