"""The write baseline: the least a request that writes can cost on this stack."""

from django.db import transaction
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from carts.models import Product


class WriteBaseline(APIView):
    """One primary-key SELECT and one UPDATE in a transaction, through DRF.

    No authentication, permission or throttle: it is the ceiling for any request that writes.
    """

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()

    def post(self, request, pk: int) -> Response:
        with transaction.atomic():
            product = Product.objects.get(pk=pk)
            Product.objects.filter(pk=pk).update(updated_at=timezone.now())
        return Response({"id": product.pk, "stock": product.stock})
