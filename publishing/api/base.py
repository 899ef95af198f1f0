"""What every API view shares: a body-size limit (413), JSON only (415), and serializers that
reject unknown fields instead of dropping them."""

from django.conf import settings
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from publishing.api.errors import PayloadTooLarge


class ApiView(APIView):
    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.API_MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The request body is over {settings.API_MAX_BODY_BYTES} bytes.")
        super().initial(request, *args, **kwargs)


class TextField(serializers.CharField):
    """A JSON string: a number or a boolean is refused, not turned into text."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error: a typo (`titel`) must not be silently ignored."""

    def validate(self, attrs: dict) -> dict:
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: serializers.ErrorDetail("Unknown field.", code="unknown_field")
                     for name in unknown}
                )  # fmt: skip
        return attrs
