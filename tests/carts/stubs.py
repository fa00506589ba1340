"""The product and payment services, played by real HTTP servers on 127.0.0.1."""

import threading

from tests.live import JsonService

TIMEOUT_MS = 200


class FakeService(JsonService):
    """An HTTP server whose answers the test sets: `answers[(method, path)] = (status, body)`.

    Unknown paths answer 404. With `hang` set, every request waits that long before answering.
    """

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[int, object]] = {}
        self.requests: list[tuple[str, str, object]] = []
        self.hang = 0.0
        self.released = threading.Event()
        super().__init__(self.respond)

    def respond(self, method: str, path: str, body: object | None) -> tuple[int, object]:
        self.requests.append((method, path, body))
        if self.hang:
            self.released.wait(self.hang)
        return self.answers.get((method, path), (404, {}))

    def product(self, product, **fields) -> None:
        body = {
            "sku": product.sku,
            "name": product.name,
            "price": str(product.price),
            "currency": product.currency,
            "stock": product.stock,
            "is_active": True,
            **fields,
        }
        self.answers[("GET", f"/products/{product.sku}")] = (200, body)

    def calls(self, method: str, prefix: str) -> int:
        return sum(1 for m, path, _ in self.requests if m == method and path.startswith(prefix))

    def stop(self) -> None:
        self.released.set()
        super().stop()


def add(api, product, quantity=1):
    return api.post(
        "/api/v1/cart/items/", {"product_id": product.pk, "quantity": quantity}, format="json"
    )


def checkout(api):
    return api.post("/api/v1/cart/checkout/")
