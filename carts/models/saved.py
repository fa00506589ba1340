"""A signed-in shopper's saved items: lines moved out of the cart to buy later."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from carts.models.cart import Product


class SavedItem(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_items"
    )
    # A product deleted from the catalog leaves nothing to buy later.
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="saved_items")
    quantity = models.PositiveIntegerField()
    # As on cart lines (carts/attributes.py).
    attributes = models.JSONField(default=dict, blank=True)
    attributes_key = models.CharField(max_length=64, default="", blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "product", "attributes_key"],
                name="one_saved_item_per_product_and_attributes",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="saved_item_quantity_positive"
            ),
        ]
        indexes = [models.Index(fields=["user", "created_at"], name="saved_item_user_created_idx")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} saved by {self.user_id}"
