"""One error shape for the whole API, every status included (400 … 500):

    {"errors": [{"code": "required", "message": "This field is required.", "field": "title"}]}

`field` is present only for field-level problems (dotted for nested ones: `tags.0`). Clients
branch on `code`, people read `message`.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it: fetch it again and retry."
    default_code = "precondition_failed"


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = "Send If-Match with the ETag you read, so no change is lost."
    default_code = "precondition_required"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource is not in a state that allows this."
    default_code = "conflict"


def error(code: str, message: str, field: str | None = None) -> dict:
    item = {"code": code, "message": message}
    if field is not None:
        item["field"] = field
    return item


def errors_from_detail(detail: object, field: str | None = None) -> list[dict]:
    """Flatten DRF's error detail (str, list or dict of them, with codes) into our list."""
    if isinstance(detail, dict):
        found = []
        for name, value in detail.items():
            if name in ("non_field_errors", "detail"):
                found += errors_from_detail(value, field)
            else:
                found += errors_from_detail(value, f"{field}.{name}" if field else str(name))
        return found
    if isinstance(detail, list):
        found = []
        for index, value in enumerate(detail):
            nested = isinstance(value, dict | list)
            found += errors_from_detail(value, f"{field}.{index}" if nested and field else field)
        return found
    code = getattr(detail, "code", None) or "invalid"
    return [error(str(code), str(detail), field)]


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception, even an unexpected one, leaves as our shape."""
    if isinstance(exc, DjangoValidationError):
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(messages)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:  # not an API exception: a bug. Log it, answer 500 in our shape.
        logger.error("Unhandled error in the API", exc_info=exc)
        return Response(
            {"errors": [error("server_error", "Something went wrong on our side.")]},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    response.data = {"errors": errors_from_detail(response.data)}
    return response


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"errors": [error(code, message)]}, status=status_code)


@csrf_exempt  # a POST to a wrong address is a 404, not a CSRF page
def not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Any /api/ address that matches no endpoint."""
    return json_error(404, "not_found", "No such endpoint; see /api/v1/docs/.")


# --- The shape in the OpenAPI schema -----------------------------------------------------------


def _schema_responses() -> dict:
    from drf_spectacular.utils import OpenApiResponse
    from rest_framework import serializers

    class ErrorItem(serializers.Serializer):
        code = serializers.CharField()
        message = serializers.CharField()
        field = serializers.CharField(required=False)

    class Errors(serializers.Serializer):
        errors = ErrorItem(many=True)

    def one(text: str) -> OpenApiResponse:
        return OpenApiResponse(Errors, description=text)

    return {
        400: one("The input is invalid: see each error's field."),
        401: one("No valid API key where one is needed (unknown, revoked or expired)."),
        403: one("The key lacks the scope, or its owner the role, for this."),
        404: one("Not found (or not published)."),
        409: one("The post is not in a state that allows this."),
        412: one("If-Match does not name the current version: read it again."),
        413: one("The body is over the size limit."),
        415: one("Only application/json is accepted."),
        428: one("Send If-Match with the ETag you read."),
        429: one("Too many requests: wait for Retry-After seconds."),
    }


ERROR_RESPONSES = _schema_responses()


def documented(*codes: int) -> dict:
    """The error responses to list for an endpoint (extend_schema(responses=…))."""
    return {code: ERROR_RESPONSES[code] for code in codes}


def strict_request_bodies(result: dict, generator: object, request: object, public: bool) -> dict:
    """drf-spectacular hook: every request body here comes from a StrictSerializer, which
    rejects unknown fields, so the schema says so (additionalProperties: false)."""
    components = result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                ref = media.get("schema", {}).get("$ref", "")
                if ref.startswith("#/components/schemas/"):
                    components[ref.rsplit("/", 1)[1]]["additionalProperties"] = False
    return result
