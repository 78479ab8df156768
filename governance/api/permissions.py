from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from governance.models import ApiToken


class HasTokenScope(permissions.BasePermission):
    """A token may only do what its scopes allow: the view names `scope_read`
    (safe methods) and `scope_write` (the rest). People with sessions are not
    limited by scopes; project roles still apply in the services."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        needed = view.scope_read if request.method in permissions.SAFE_METHODS else view.scope_write
        if needed in token.scopes:
            return True
        self.message = f"This API token lacks the scope '{needed}'."
        return False
