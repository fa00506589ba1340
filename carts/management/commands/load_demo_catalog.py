"""Load a small demo catalog. Idempotent: products are matched by SKU and left as staff set them."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from carts.models import Product

DEMO_PRODUCTS = [
    ("TEE-BLK-M", "Black T-shirt, M", "19.90", 120),
    ("TEE-WHT-L", "White T-shirt, L", "19.90", 80),
    ("HOOD-GRY-M", "Grey hoodie, M", "49.00", 40),
    ("CAP-NVY", "Navy cap", "14.50", 60),
    ("SOCK-3PK", "Socks, 3 pack", "9.99", 200),
    ("MUG-CER", "Ceramic mug", "12.00", 75),
    ("BAG-TOTE", "Canvas tote bag", "16.00", 90),
    ("BOTTLE-STL", "Steel water bottle", "24.50", 50),
    ("NOTE-A5", "A5 notebook", "7.25", 150),
    ("PEN-SET", "Pen set", "11.40", 0),
]


class Command(BaseCommand):
    help = "Load the demo catalog (safe to run again: existing SKUs are left as they are)."

    def handle(self, *args, **options):
        created = 0
        for sku, name, price, stock in DEMO_PRODUCTS:
            _, was_created = Product.objects.get_or_create(
                sku=sku, defaults={"name": name, "price": Decimal(price), "stock": stock}
            )
            created += was_created
        self.stdout.write(f"Demo catalog: {created} created, {len(DEMO_PRODUCTS) - created} kept.")
