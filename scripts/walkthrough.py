#!/usr/bin/env python3
"""A newcomer's walk through the API against a running server, with the standard library only.

    python3 scripts/walkthrough.py [http://localhost:8000]

Registers a shopper, signs in, adds a product to the cart, saves it for later and moves it
back, adds several lines at once (one with attributes), previews the checkout, checks out,
and checks each answer. Exits non-zero at the first surprise.
"""

import json
import secrets
import sys
import urllib.error
import urllib.request


def call(base: str, method: str, path: str, body=None, token: str | None = None):
    request = urllib.request.Request(
        base.rstrip("/") + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def expect(condition: bool, message: str, payload=None) -> None:
    if not condition:
        sys.exit(f"FAILED: {message}\n{json.dumps(payload, indent=2)}")
    print(f"ok  {message}")


def main(base: str) -> None:
    username, password = f"shopper-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    status, body = call(
        base, "POST", "/api/v1/auth/register/", {"username": username, "password": password}
    )
    expect(status == 201, f"register {username}", body)

    status, body = call(
        base, "POST", "/api/v1/auth/token/", {"username": username, "password": password}
    )
    expect(status == 200 and "access" in body, "get a token", body)
    token = body["access"]

    status, body = call(base, "GET", "/api/v1/products/?page_size=100")
    in_stock = [p for p in body.get("results", []) if p["stock"] >= 3]
    expect(status == 200 and in_stock, "list products in stock", body)
    product = in_stock[0]

    status, body = call(
        base, "POST", "/api/v1/cart/items/", {"product_id": product["id"], "quantity": 2}, token
    )
    expect(status == 201 and body["total_quantity"] == 2, f"add 2 x {product['sku']}", body)

    status, cart = call(base, "GET", "/api/v1/cart/", token=token)
    expect(status == 200 and len(cart["items"]) == 1, "read the cart", cart)

    item_id = cart["items"][0]["id"]
    status, body = call(base, "POST", f"/api/v1/cart/items/{item_id}/save-for-later/", token=token)
    expect(status == 200 and body["items"] == [], f"save {product['sku']} for later", body)

    status, body = call(base, "GET", "/api/v1/saved-items/", token=token)
    saved = body["results"] if status == 200 else []
    expect(
        len(saved) == 1 and saved[0]["quantity"] == 2 and saved[0]["available"],
        "list the saved items",
        body,
    )

    path = f"/api/v1/saved-items/{saved[0]['id']}/move-to-cart/"
    status, cart = call(base, "POST", path, token=token)
    expect(status == 200 and cart["total_quantity"] == 2, "move it back to the cart", cart)

    # One more of the product as another line (gift-wrapped), and another product if any.
    entries = [{"product_id": product["id"], "attributes": {"gift wrap": "yes"}}]
    entries += [{"product_id": p["id"]} for p in in_stock[1:2]]
    status, cart = call(base, "POST", "/api/v1/cart/items/", {"items": entries}, token)
    expect(
        status == 201
        and len(cart["items"]) == 1 + len(entries)
        and cart["items"][1]["attributes"] == {"gift wrap": "yes"},
        "add several at once, one gift-wrapped",
        cart,
    )

    status, body = call(base, "POST", "/api/v1/cart/checkout/preview/", token=token)
    expect(
        status == 200 and body["ok"] and body["total"] == cart["estimated_total"],
        f"preview the checkout, total {body.get('total')}",
        body,
    )

    status, body = call(base, "POST", "/api/v1/cart/checkout/", token=token)
    expect(
        status == 200 and body["status"] == "checked_out" and body["total"] == cart["subtotal"],
        f"check out, total {body.get('total')}",
        body,
    )

    status, body = call(base, "GET", "/api/v1/cart/", token=token)
    expect(status == 200 and body["items"] == [], "the next cart is empty", body)
    print("walkthrough passed")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8000")
