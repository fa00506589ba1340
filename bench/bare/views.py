"""The bare write and JSON views (bench/bare/__init__.py)."""

from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.bare.models import Product


class Write(APIView):
    """One primary-key SELECT and one UPDATE in a transaction, through DRF."""

    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()

    def post(self, request, pk: int) -> Response:
        with transaction.atomic():
            product = Product.objects.get(pk=pk)
            Product.objects.filter(pk=pk).update(updated_at=timezone.now())
        return Response({"id": product.pk, "stock": product.stock})


def plain_json(request) -> JsonResponse:
    return JsonResponse({"status": "ok", "service": "bench-bare"})
