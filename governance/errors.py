from config.errors import ServiceError


class GovernanceError(ServiceError):
    """The one domain error governance services raise; the API and web layers translate it."""


class NotPermitted(GovernanceError):
    status = 403


class NotFound(GovernanceError):
    status = 404


class Conflict(GovernanceError):
    status = 409


class Unauthenticated(GovernanceError):
    status = 401
