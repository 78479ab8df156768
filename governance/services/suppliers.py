"""What was asked of a supplier for the model documentation, and what came of it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from governance.errors import NotPermitted
from governance.models import Membership, Role
from governance.services import audit
from lca.models import DataRequestState, Supplier, SupplierDataRequest


def may_record(user: User) -> bool:
    """Suppliers serve every project: staff and any project's sustainability officers record their answers."""
    officer = Membership.objects.filter(user=user, roles__name=Role.SUSTAINABILITY_OFFICER.value)
    return user.is_staff or officer.exists()


@transaction.atomic
def record_data_request(
    *, supplier: Supplier, actor: User, what: str, state: DataRequestState, note: str = ""
) -> SupplierDataRequest:
    """One step of a request (asked, received, refused); the versions trained at the
    supplier's facilities get their figures again (the EU documentation cites the answer)."""
    if not may_record(actor):
        raise NotPermitted("Recording a supplier's answers needs a sustainability officer or staff.")
    step = SupplierDataRequest.objects.create(
        supplier=supplier, what=what, state=state, note=note, recorded_by=actor.get_username()
    )
    audit.record(
        actor=actor,
        action=f"supplier.data_{state}",
        obj=step,
        payload={"supplier": supplier.slug, "what": what, "note": note},
    )
    return step
