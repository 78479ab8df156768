"""Signed release attestations: when the gate lets a version out, an in-toto Statement
(subject: the artefact's SHA-256) records the review, its snapshot digest, the approvers
and their roles, the budgets, the policy and the audit chain's head; it is wrapped in a
DSSE envelope signed with the server's Ed25519 key (securesystemslib), which a cluster's
admission policy or `greenlight attest verify` checks offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from google.protobuf.json_format import MessageToDict
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

from config.errors import ServiceError
from governance.models import ImpactReview, ModelVersion, ReleaseAttestation, ReviewKind, ReviewState
from governance.services import audit
from governance.services.budgets import budget_status

PREDICATE_TYPE = "https://greenlight.dev/attestations/release/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
DEV_KEY = "attestation-dev-key.pem"


class NoSigningKey(ServiceError):
    status = 409


def _private_key() -> Ed25519PrivateKey | None:
    pem = settings.ATTESTATION_SIGNING_KEY
    if not pem and settings.DEBUG:  # a development key, made once and kept with the media files
        path = Path(settings.MEDIA_ROOT) / DEV_KEY
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        pem = path.read_text()
    if not pem:
        return None
    loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise NoSigningKey("ATTESTATION_SIGNING_KEY must be an Ed25519 private key (PEM).")
    return loaded


def public_key() -> SSlibKey | None:
    key = _private_key()
    return SSlibKey.from_crypto(key.public_key()) if key else None


def public_key_pem() -> str | None:
    key = _private_key()
    if key is None:
        return None
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def statement(version: ModelVersion, decision: dict[str, Any]) -> dict[str, Any]:
    """The in-toto Statement of a release, as JSON."""
    review = (
        ImpactReview.objects.filter(model_version=version, kind=ReviewKind.PRE_RELEASE, state=ReviewState.APPROVED)
        .order_by("-pk")
        .first()
    )
    approvers = (
        [{"username": d.reviewer.username, "role": d.role} for d in review.decisions.select_related("reviewer")]
        if review
        else []
    )
    budgets = [
        {
            "name": s.budget.name,
            "level": s.level,
            "used_kwh": round(s.used_kwh, 3),
            "used_kgco2e": round(s.used_kgco2e, 3),
        }
        for s in (budget_status(b) for b in version.project.budgets.all())
    ]
    subject = ResourceDescriptor(
        name=f"{version.registered_model.name}:{version.version}", digest={"sha256": version.artifact_sha256}
    )
    predicate = {
        "version": {"id": version.pk, "model": version.registered_model.name, "version": version.version},
        "project": version.project.slug,
        "review": {"id": review.pk, "snapshot_digest": review.snapshot_digest} if review else None,
        "approvers": approvers,
        "budgets": budgets,
        "policy_version": decision["policy_version"],
        "evidence_digest": decision["evidence_digest"],
        "findings": [{"rule": f["rule"], "passed": f["passed"]} for f in decision["findings"]],
        "audit_chain_head": audit.head(),
        "released_at": version.released_at.isoformat() if version.released_at else None,
    }
    made = Statement(subjects=[subject.pb], predicate_type=PREDICATE_TYPE, predicate=predicate)
    made.validate()
    data: dict[str, Any] = MessageToDict(made.pb)
    return data


def issue(version: ModelVersion, decision: dict[str, Any]) -> ReleaseAttestation | None:
    """Signs and stores the release's attestation; none without an artefact digest or a key."""
    if not version.artifact_sha256:
        return None
    key = _private_key()
    if key is None:
        return None
    payload = json.dumps(statement(version, decision), sort_keys=True, separators=(",", ":")).encode()
    envelope = Envelope(payload=payload, payload_type=PAYLOAD_TYPE, signatures={})
    signer = CryptoSigner(key, SSlibKey.from_crypto(key.public_key()))
    envelope.sign(signer)
    record, _ = ReleaseAttestation.objects.update_or_create(
        version=version, defaults={"envelope": envelope.to_dict(), "key_id": signer.public_key.keyid}
    )
    return record
