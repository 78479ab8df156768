"""Enrolment and agent credentials. An agent key can only ingest: it is accepted by
the ingest endpoint and by nothing else."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.credentials import matches, new_secret, split
from telemetry.models import Agent, EnrolmentToken, KeyKind, SealedLabel

ENROLMENT_KIND = "gle"
AGENT_KIND = "gla"


class EnrolmentRefused(Exception):
    pass


def create_enrolment_token(
    *, name: str, label_namespaces: list[str], kind: str = KeyKind.AGENT, max_uses: int = 1
) -> tuple[EnrolmentToken, str]:
    """A token whose agents may write labels of these namespaces only ('aurora' allows
    'aurora/…'); ['*'] lets them write any label, a fleet-wide choice to make explicitly."""
    if not label_namespaces or any(not n or "/" in n for n in label_namespaces):
        raise ValueError("Give the label namespaces its agents may write (a project's slug), or '*' for any.")
    prefix, raw, digest = new_secret(ENROLMENT_KIND)
    token = EnrolmentToken.objects.create(
        name=name, prefix=prefix, key_hash=digest, label_namespaces=label_namespaces, kind=kind, max_uses=max_uses
    )
    return token, raw


@transaction.atomic
def enrol_agent(*, enrolment_token: str, hostname: str) -> tuple[Agent, str]:
    """Exchanges a valid enrolment token for a new agent and its own key (shown once)."""
    prefix = split(enrolment_token, ENROLMENT_KIND)
    token = EnrolmentToken.objects.filter(prefix=prefix, revoked_at__isnull=True).first() if prefix else None
    if token is None or not matches(token.key_hash, enrolment_token):
        raise EnrolmentRefused("Unknown or revoked enrolment token.")
    # Counted in the database, so two hosts enrolling at once cannot both take the last use.
    if not EnrolmentToken.objects.filter(pk=token.pk, uses__lt=F("max_uses")).update(uses=F("uses") + 1):
        raise EnrolmentRefused(f"This enrolment token has enrolled its {token.max_uses} agent(s) already.")
    key_prefix, raw, digest = new_secret(AGENT_KIND)
    agent = Agent.objects.create(
        hostname=hostname[:255],
        prefix=key_prefix,
        key_hash=digest,
        enrolment_token=token,
        label_namespaces=token.label_namespaces,
        kind=token.kind,
    )
    return agent, raw


def authenticate_agent(raw: str) -> Agent | None:
    prefix = split(raw, AGENT_KIND)
    if prefix is None:
        return None
    agent = Agent.objects.active().filter(prefix=prefix).first()
    return agent if agent is not None and matches(agent.key_hash, raw) else None


def revoke_agent(*, agent: Agent) -> None:
    Agent.objects.filter(pk=agent.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def revoke_enrolment_token(*, token: EnrolmentToken) -> None:
    EnrolmentToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def seal_label(*, label: str, reason: str) -> None:
    """No more samples under this label: later ones are quarantined with the reason."""
    SealedLabel.objects.get_or_create(label=label, defaults={"reason": reason[:200]})
