"""API plumbing shared by every app (no domain logic)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


# Values every column and every computation can hold: a stored NaN, year 9999 or 2^70
# would make every page that reads the row fail later, far from the request that sent it.
EARLIEST, LATEST = date(1970, 1, 1), date(2200, 12, 31)
MAX_INTEGER = 2**63 - 1
# No input quantity comes near this (a trillion parameters is 1e12, a year of a
# 100,000-GPU fleet is 9e8 device-hours), and products of such inputs stay finite.
MAX_QUANTITY = 1e15


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def poison(value: Any) -> str | None:
    """Why a validated value cannot be stored or computed with, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "Must be a finite number."
    if isinstance(value, float) and abs(value) > MAX_QUANTITY:
        return f"Must be at most {MAX_QUANTITY:g} in size."
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        return f"Must be between -{MAX_INTEGER} and {MAX_INTEGER}."
    if isinstance(value, date):
        day = value.date() if isinstance(value, datetime) else value
        if not EARLIEST <= day <= LATEST:
            return f"Must be between {EARLIEST} and {LATEST}."
    if isinstance(value, Mapping):
        return next((why for v in value.values() if (why := poison(v))), None)
    if isinstance(value, list | tuple):
        return next((why for v in value if (why := poison(v))), None)
    return None


class CheckedValues:
    """Refuses, field by field, what serializers let through but PostgreSQL or arithmetic
    cannot take: NUL characters, NaN and infinity, quantities beyond 1e15, dates outside
    1970-2200, integers beyond 64 bits."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            # A form's QueryDict gives only a key's last value through items(): check them all.
            pairs = data.lists() if hasattr(data, "lists") else data.items()
            nul = {str(k)[:100]: ["Null characters are not allowed."] for k, v in pairs if _has_nul(k) or _has_nul(v)}
            if nul:
                raise serializers.ValidationError(nul)
        value = super().to_internal_value(data)  # type: ignore[misc]
        errors = {name: [why] for name, v in value.items() if (why := poison(v))}
        if errors:
            raise serializers.ValidationError(errors)
        return value


class StrictSerializer(CheckedValues, serializers.Serializer):  # type: ignore[type-arg]
    """Rejects fields it does not know, so that a pipeline's typo is a 400, not silence,
    and reports every faulty field at once."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        errors: dict[str, Any] = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            raise serializers.ValidationError({**errors, **detail}) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return value


class IdConverter:
    """A row id in a URL: digits that fit a bigint column, so an id too large for the
    database is a 404, not a database error."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_INTEGER:
            raise ValueError(value)  # the URL resolver then tries the next pattern, and 404s
        return number

    def to_url(self, value: int) -> str:
        return str(value)


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["message", "errors"],
}
ERROR_RESPONSES = {
    "400": "Invalid input: `errors` names every faulty field.",
    "401": "No credentials, or unknown or revoked ones.",
    "403": "Not permitted (a missing role, token scope or key kind).",
    "404": "Not found, or not visible to you.",
    "409": "Conflicts with the current state (e.g. a duplicate, a closed gate).",
    "429": "Too many requests: slow down (see Retry-After).",
}


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular hook: every operation documents the one error shape and the
    statuses it may answer with, so the schema tells clients the truth about failures."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for status, description in ERROR_RESPONSES.items():
                operation.setdefault("responses", {}).setdefault(
                    status, {"description": description, "content": content}
                )
    return result


def not_found(request: Any, exception: Exception | None = None) -> Any:
    """404: the API's JSON error shape under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"message": "Not found.", "errors": {}}, status=404)
    return page_not_found(request, exception)


# The scope that read-only views of every app accept; governance's TokenScope.REGISTRY_READ
# (a test keeps the two equal, since config may not import governance).
READ_SCOPE = "registry:read"


class TokenScopes(BasePermission):
    """One check for every token-authenticated request: a token may only do what its
    scopes allow, and a view names what it needs (`scope_read` for safe methods,
    `scope_write` for the rest). A view that names nothing refuses tokens. People with
    sessions are not limited by scopes (their roles apply in the services); agent and
    CodeCarbon keys carry no scopes and are checked by their own permissions."""

    def has_permission(self, request: Any, view: Any) -> bool:
        scopes = getattr(request.auth, "scopes", None)
        if scopes is None:
            return True
        needed = getattr(view, "scope_read" if request.method in SAFE_METHODS else "scope_write", None)
        if needed is None:
            self.message = "This endpoint takes no API token."
            return False
        if needed in scopes:
            return True
        self.message = f"This API token lacks the scope '{needed}'."
        return False
