"""A line's `attributes` (a size, an engraving, a gift message): string keys to string values.

The same product with the same attributes is one line. The database keeps it so with a unique
constraint on (cart, product, `attributes_key`): the key is "" for no attributes, else the
SHA-256 of the normalised attributes' canonical JSON. Normalised: keys and values trimmed,
keys sorted by code point (as PostgreSQL's `COLLATE "C"` sorts them, carts/db/document.py),
so `{"b": "1", "a": "2"}` and `{" a": "2 ", "b": "1"}` name the same line. Keys keep their case.
"""

import hashlib
import json

MAX_KEYS = 10
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 200


def attributes_normalise(attributes: dict[str, str]) -> dict[str, str]:
    """Trimmed keys and values, keys in code point order (the input is already valid)."""
    return dict(sorted((key.strip(), value.strip()) for key, value in attributes.items()))


def attributes_key(attributes: dict[str, str]) -> str:
    """The key of normalised `attributes` in the lines' unique constraint ("" for none)."""
    if not attributes:
        return ""
    text = json.dumps(attributes, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def attributes_faults(attributes: object) -> list[str]:
    """What is wrong with `attributes` as a client sent them (nothing: [])."""
    if not isinstance(attributes, dict):
        return ["Must be an object of string keys to string values."]
    faults = []
    if len(attributes) > MAX_KEYS:
        faults.append(f"At most {MAX_KEYS} keys.")
    trimmed = set()
    for key, value in attributes.items():
        name = key.strip()
        if not name or len(name) > MAX_KEY_LENGTH:
            faults.append(f"Key {key!r}: from 1 to {MAX_KEY_LENGTH} characters.")
        elif name in trimmed:
            faults.append(f"Key {key!r}: given twice (keys are trimmed).")
        trimmed.add(name)
        if not isinstance(value, str):
            faults.append(f"Key {key!r}: the value must be a string.")
        elif not value.strip() or len(value.strip()) > MAX_VALUE_LENGTH:
            faults.append(
                f"Key {key!r}: the value must hold from 1 to {MAX_VALUE_LENGTH} characters."
            )
    return faults
