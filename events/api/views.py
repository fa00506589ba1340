"""`GET /api/v1/events/`: the cart events in commit order, for staff and the systems they run."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from addtocart.api.permissions import IsStaff
from addtocart.api.schema import problems
from events.api.serializers import EventPageInput, EventPageOutput
from events.relay import events_position
from events.selectors import event_page, event_payload


class EventListView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        summary="Read the cart events after a cursor (staff)",
        parameters=[EventPageInput],
        responses={200: EventPageOutput, **problems(400, 401, 403)},
        description="Every event after the cursor `after`, oldest first, in the order their "
        "changes were committed; follow `next` until a page comes back empty, and keep the "
        "last `next` to go on later. An event's place never changes: a consumer that stores "
        "its cursor misses nothing and sees nothing twice. Events are kept "
        "EVENT_RETENTION_DAYS (7).",
    )
    def get(self, request):
        query = EventPageInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        events_position()
        page, next_cursor = event_page(**query.validated_data)
        body = {"events": [event_payload(event) for event in page], "next": str(next_cursor)}
        return Response(body)
