"""The events API's query and answers."""

from rest_framework import serializers

from events.models import EventType

MAX_PAGE = 500


class EventPageInput(serializers.Serializer):
    """Query parameters: a query string is text, so numbers arrive as digits."""

    after = serializers.IntegerField(
        min_value=0,
        max_value=2**63 - 1,
        default=0,
        help_text="The cursor: the `next` of the previous page (0, or absent, from the start).",
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=100)
    type = serializers.ChoiceField(choices=EventType.choices, required=False)


class EventOutput(serializers.Serializer):
    id = serializers.CharField(help_text="`evt_<n>`, the same in every delivery of the event.")
    type = serializers.ChoiceField(choices=EventType.choices)
    timestamp = serializers.DateTimeField(help_text="When the change was made.")
    sequence = serializers.IntegerField(
        help_text="The cart's count of events, from 1: a consumer keeps the highest it has "
        "applied per cart and drops any event at or below it."
    )
    data = serializers.DictField(
        help_text="`cart`: the cart as its owner sees it (without a guest's session id); "
        "`owner`: `{user_id}` (null for a guest); and what the type adds (see docs/events.md)."
    )


class EventPageOutput(serializers.Serializer):
    events = EventOutput(many=True)
    next = serializers.CharField(help_text="The cursor to send as `after` for the next page.")
