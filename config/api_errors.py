"""One JSON error shape for the whole API: {"message": "...", "errors": {field: [...]}}.
Its own module: DRF's settings import config.api before rest_framework.views exists."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ServiceError


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return Response({"message": exc.message, "errors": exc.field_errors}, status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = response.data
        if isinstance(detail, dict):
            errors = {field: _messages(msgs) for field, msgs in detail.items()}
        else:
            errors = {"non_field_errors": _messages(detail)}
        fields = ", ".join(sorted(errors))
        response.data = {"message": f"Invalid input: {fields}.", "errors": errors}
    elif isinstance(exc, (Http404, PermissionDenied)):
        response.data = {"message": "Not found." if isinstance(exc, Http404) else "Permission denied.", "errors": {}}
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = {"message": str(detail), "errors": {}}
    return response
