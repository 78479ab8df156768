"""Secrets handed to clients once and stored only as a SHA-256: API tokens,
enrolment tokens, agent keys. The secrets carry 256 bits of entropy, so a fast
hash is enough (no password stretching)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret(kind: str) -> tuple[str, str, str]:
    """(lookup prefix, the secret to hand out, its digest to store). `kind` marks the use, e.g. 'glt'."""
    prefix = secrets.token_hex(4)
    raw = f"{kind}_{prefix}_{secrets.token_urlsafe(32)}"
    return prefix, raw, digest(raw)


def split(raw: str, kind: str) -> str | None:
    """The lookup prefix of a well-formed secret of this kind, else None."""
    parts = raw.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == kind else None


def matches(stored_digest: str, raw: str) -> bool:
    return hmac.compare_digest(stored_digest, digest(raw))
