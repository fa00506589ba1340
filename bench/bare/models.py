"""The service's product table (carts_product), read and written but never created here."""

from django.db import models


class Product(models.Model):
    """The columns of the service's Product, so that a SELECT reads what the service's reads."""

    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    stock = models.PositiveIntegerField()
    is_active = models.BooleanField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "carts_product"

    def __str__(self) -> str:
        return self.sku
