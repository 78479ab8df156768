"""Response headers and session rules that Django does not set by itself."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

# No inline script or style anywhere in Greenlight's own pages: everything is served
# from 'self', SVG charts included (they are markup, not images from elsewhere).
STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs are third-party bundles (Swagger UI, Redoc) that start from an
# inline script and style their own markup inline; they show only the public schema.
API_DOCS = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
API_DOCS_PATHS = ("/api/v1/docs/", "/api/v1/redoc/")


class ContentSecurityPolicy:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = API_DOCS if request.path.startswith(API_DOCS_PATHS) else STRICT
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


class StaffSessionTimeout:
    """Staff sessions end after STAFF_SESSION_IDLE_S without a request: a staff account
    left signed in on a shared screen can change every project."""

    KEY = "greenlight_last_seen"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            now = time.time()
            last = request.session.get(self.KEY, now)
            if now - last > settings.STAFF_SESSION_IDLE_S:
                logout(request)
            else:
                request.session[self.KEY] = now
        return self.get_response(request)


class RefuseNulInQuery:
    """A NUL character cannot reach PostgreSQL: any query parameter holding one (on a page
    or an endpoint) is a 400 here, once, instead of a database error later."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"message": "Null characters are not allowed in the query.", "errors": {}}, status=400
                )
            return HttpResponseBadRequest("Null characters are not allowed in the query.")
        return self.get_response(request)
