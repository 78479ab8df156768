"""API tokens for pipelines: issued once, stored as a hash, revocable."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from config.credentials import matches, new_secret, split
from governance.errors import GovernanceError, NotPermitted
from governance.models import ApiToken, TokenScope
from governance.services import audit

TOKEN_PREFIX = "glt"  # noqa: S105 (a public marker, not a secret)


@transaction.atomic
def issue_token(*, user: User, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """Returns the token row and the secret, which is never shown again."""
    valid = set(TokenScope.values)
    unknown = [s for s in scopes if s not in valid]
    if not scopes or unknown:
        raise GovernanceError(
            "Give at least one valid scope.",
            field_errors={"scopes": [f"Unknown scope '{s}'." for s in unknown] or ["Choose at least one."]},
        )
    if not name.strip():
        raise GovernanceError("A token needs a name.", field_errors={"name": ["This field is required."]})
    prefix, raw, key_hash = new_secret(TOKEN_PREFIX)
    token = ApiToken.objects.create(user=user, name=name.strip(), prefix=prefix, key_hash=key_hash, scopes=scopes)
    audit.record(actor=user, action="token.issued", obj=token, payload={"name": token.name, "scopes": scopes})
    return token, raw


@transaction.atomic
def revoke_token(*, token: ApiToken, actor: User) -> ApiToken:
    if token.user_id != actor.pk and not getattr(actor, "is_superuser", False):
        raise NotPermitted("Only the token's owner can revoke it.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor, action="token.revoked", obj=token, payload={"name": token.name, "owner": token.user_id}
        )
    return token


LAST_USED_RESOLUTION = timedelta(minutes=1)


def authenticate_token(raw: str) -> ApiToken | None:
    """The active token whose secret is `raw`, or None."""
    prefix = split(raw, TOKEN_PREFIX)
    if prefix is None:
        return None
    token = ApiToken.objects.active().select_related("user").filter(prefix=prefix).first()
    if token is None or not matches(token.key_hash, raw) or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # A read should not write: the last use is recorded at most once a minute.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
