import io

from django.conf import settings
from rest_framework.exceptions import APIException
from rest_framework.parsers import JSONParser


class RequestBodyTooLarge(APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "body_too_large"


class LimitedJSONParser(JSONParser):
    """JSON with a size limit: DRF reads the raw stream and skips Django's upload limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestBodyTooLarge(f"The request body is larger than {limit} bytes.")
        return super().parse(io.BytesIO(body), media_type, parser_context)
