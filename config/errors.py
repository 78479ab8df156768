"""The error type every app's services raise, so that one API handler (config.api) and
the web views translate them alike without an app depending on another."""

from __future__ import annotations


class ServiceError(Exception):
    """`status` is the HTTP status the API answers with; `field_errors` maps input field
    names to messages where the fault lies in one field."""

    status = 400

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}
