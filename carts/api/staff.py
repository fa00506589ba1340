"""Every cart, read-only, for staff."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from addtocart.api.permissions import IsStaff
from addtocart.api.schema import problems
from carts import selectors
from carts.api.filters import StaffCartFilter
from carts.api.serializers import StaffCartOutput


@extend_schema_view(
    list=extend_schema(
        summary="List every cart (staff)",
        responses={200: StaffCartOutput(many=True), **problems(400, 401, 403, 404)},
    ),
    retrieve=extend_schema(
        summary="Read any cart (staff)",
        responses={200: StaffCartOutput, **problems(401, 403, 404)},
    ),
)
class StaffCartViewSet(viewsets.ReadOnlyModelViewSet):
    """Every cart, read-only, for staff."""

    serializer_class = StaffCartOutput
    permission_classes = [IsStaff]
    filterset_class = StaffCartFilter
    lookup_value_regex = r"[0-9a-fA-F-]{32,36}"

    def get_queryset(self):
        return selectors.cart_list()
