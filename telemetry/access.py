"""Who may see which telemetry. Devices are shared infrastructure, but the energy of a
job label is project data. Telemetry knows labels and devices, not projects: the rule
that maps a person to the labels they may see comes from TELEMETRY_LABEL_ACCESS, a
function the project's governance provides (settings name it; telemetry never imports
it), returning the visible labels, or None for all (staff)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.utils.module_loading import import_string

from telemetry.models import Device


def visible_labels(user: Any) -> set[str] | None:
    rule: Callable[[Any], set[str] | None] = import_string(settings.TELEMETRY_LABEL_ACCESS)
    return rule(user)


def visible_devices(user: Any) -> QuerySet[Device]:
    """Every device for staff; otherwise the devices that carried a label the user may see."""
    labels = visible_labels(user)
    devices = Device.objects.select_related("agent").order_by("agent__hostname", "index")
    if labels is None:
        return devices
    return devices.filter(pk__in=Device.objects.filter(rollups__label__in=labels).values("pk"))


def require(user: Any, *, labels: Iterable[str] = (), device_ids: Iterable[int] = ()) -> None:
    """404 (not 403: an outsider learns nothing of what exists) for any label or device
    the user may not see."""
    allowed = visible_labels(user)
    if allowed is None:
        return
    if any(label not in allowed for label in labels):
        raise Http404("No such label.")
    device_ids = list(device_ids)
    if device_ids and visible_devices(user).filter(pk__in=device_ids).count() != len(set(device_ids)):
        raise Http404("No such device.")
