"""What other apps may listen to: a reference row that footprints use has changed, with
the primary keys of the changed rows (`grid_regions`, `facilities`, `hardware`,
`suppliers` — whose data requests the EU model documentation cites)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from lca.models import Facility, GridRegion, HardwareModel, SupplierDataRequest

reference_changed = Signal()


@receiver(post_save, sender=GridRegion)
def _grid_region_saved(sender: Any, instance: GridRegion, **kwargs: Any) -> None:
    reference_changed.send(sender=GridRegion, grid_regions=[instance.pk])


@receiver(post_save, sender=Facility)
def _facility_saved(sender: Any, instance: Facility, **kwargs: Any) -> None:
    reference_changed.send(sender=Facility, facilities=[instance.pk])


@receiver(post_save, sender=HardwareModel)
def _hardware_saved(sender: Any, instance: HardwareModel, **kwargs: Any) -> None:
    reference_changed.send(sender=HardwareModel, hardware=[instance.pk])


@receiver(post_save, sender=SupplierDataRequest)
def _data_request_saved(sender: Any, instance: SupplierDataRequest, **kwargs: Any) -> None:
    reference_changed.send(sender=SupplierDataRequest, suppliers=[instance.supplier_id])
