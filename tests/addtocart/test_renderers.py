"""The orjson renderer writes what DRF's JSONRenderer writes."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from addtocart.api.renderers import JSONRenderer, RawJSON

PAYLOAD = {
    "id": uuid.UUID("6f1c2d4e-8a9b-4c0d-9e1f-2a3b4c5d6e7f"),
    "total": Decimal("12.50"),
    "when": datetime(2026, 11, 28, 19, 0, 0, 123456, tzinfo=UTC),
    "elsewhere": datetime(2026, 11, 28, 20, 0, tzinfo=timezone(timedelta(hours=1))),
    "day": datetime(2026, 11, 28).date(),
    "lazy": gettext_lazy("This field is required."),
    "detail": ErrorDetail("Not found.", code="not_found"),
    "items": ReturnList([{"sku": "Ünïcode ✓", "quantity": 3, "price": 9.99}], serializer=None),
    "nested": ReturnDict({"ok": True, "none": None, "tuple": (1, 2)}, serializer=None),
    "separators": "line\u2028paragraph\u2029end",
    7: "an integer key",
}


def drf(data, media_type=None):
    return renderers.JSONRenderer().render(data, media_type)


def test_the_same_bytes_as_drf():
    assert JSONRenderer().render(PAYLOAD) == drf(PAYLOAD)


def test_line_and_paragraph_separators_are_escaped():
    assert b"line\\u2028paragraph\\u2029end" in JSONRenderer().render(PAYLOAD)


def test_an_indented_answer_is_drfs():
    media_type = "application/json; indent=2"
    assert JSONRenderer().render(PAYLOAD, media_type) == drf(PAYLOAD, media_type)
    assert b"\n  " in JSONRenderer().render(PAYLOAD, media_type)


@pytest.mark.parametrize("data", [None, [], {}, "text", 0])
def test_plain_values(data):
    assert JSONRenderer().render(data) == drf(data)


def test_the_api_answers_through_it(api, db):
    response = api.get("/api/v1/products/")
    assert isinstance(response.accepted_renderer, JSONRenderer)
    assert response.content == drf(response.data)


def test_raw_json_is_written_as_it_is():
    data = {"items": RawJSON('[{"id":1,"name":"a\\"b"}]'), "total": "1.00"}
    assert JSONRenderer().render(data) == b'{"items":[{"id":1,"name":"a\\"b"}],"total":"1.00"}'


def test_raw_json_in_an_indented_answer_is_indented_too():
    media_type = "application/json; indent=2"
    raw = {"items": RawJSON('[{"id":1,"name":"x"}]')}
    parsed = {"items": [{"id": 1, "name": "x"}]}
    assert JSONRenderer().render(raw, media_type) == drf(parsed, media_type)


def test_separators_inside_raw_json_are_escaped_too():
    assert JSONRenderer().render([RawJSON('"a\u2028b"')]) == b'["a\\u2028b"]'
