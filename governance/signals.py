"""Security events raised by libraries, written to the audit trail. (Greenlight's own
state changes are audited by their services, not by signals.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from axes.signals import user_locked_out
from django.dispatch import receiver

from governance.services import audit


@dataclass(frozen=True)
class Login:
    pk: str  # the user name tried


@receiver(user_locked_out)
def record_lockout(sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    audit.record(
        actor="system",
        action="login.locked_out",
        obj=Login(str(username or "")[:64]),
        payload={"username": username, "ip_address": ip_address},
    )
