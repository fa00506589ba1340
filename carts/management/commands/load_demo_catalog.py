"""Load a small demo catalog and two discount codes. Idempotent: products are matched by SKU,
codes by code, and left as staff set them."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from carts.models import DiscountCode, Product

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


# (code, kind, value, currency, min_subtotal, SKUs it is limited to)
DEMO_CODES = [
    ("WELCOME10", "percentage", "10", "", None, []),
    ("MUGS5", "fixed_amount", "5.00", "EUR", "20.00", ["MUG-CER"]),
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
        for code, kind, value, currency, min_subtotal, skus in DEMO_CODES:
            if DiscountCode.objects.filter(code__iexact=code).exists():
                continue
            made = DiscountCode.objects.create(
                code=code,
                kind=kind,
                value=Decimal(value),
                currency=currency,
                min_subtotal=min_subtotal and Decimal(min_subtotal),
            )
            made.products.set(Product.objects.filter(sku__in=skus))
        self.stdout.write(f"Demo discount codes: {', '.join(code[0] for code in DEMO_CODES)}.")
