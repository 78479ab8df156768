class GovernanceError(Exception):
    """The one domain error services raise; the API and web layers translate it.

    `status` is the HTTP status the API answers with; `field_errors` maps input
    field names to messages where the fault lies in one field."""

    status = 400

    def __init__(self, message: str, *, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class NotPermitted(GovernanceError):
    status = 403


class NotFound(GovernanceError):
    status = 404


class Conflict(GovernanceError):
    status = 409
