"""Hosts and devices, and power and energy charts for a label or a device."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone

from lca.charts import line_chart
from telemetry import access, queries
from telemetry.models import Device, MinuteRollup

ONLINE_WITHIN = timedelta(minutes=2)


@login_required
def devices(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [
        (d, d.last_seen_at is not None and now - d.last_seen_at <= ONLINE_WITHIN)
        for d in access.visible_devices(request.user)
    ]
    recent = MinuteRollup.objects.filter(minute__gte=now - timedelta(days=7))
    allowed = access.visible_labels(request.user)
    if allowed is not None:
        recent = recent.filter(label__in=allowed)
    # The distinct labels, found by the database: a week of a fleet's minutes stays there.
    labels = recent.exclude(label="").order_by("label").values_list("label", flat=True).distinct()
    return render(request, "telemetry/devices.html", {"rows": rows, "labels": list(labels)})


@login_required
def chart(request: HttpRequest) -> HttpResponse:
    label = request.GET.get("label") or None
    device_id = request.GET.get("device")
    hours_text = request.GET.get("hours") or "24"
    if not hours_text.isdigit():
        return HttpResponseBadRequest("hours must be a whole number of hours (1 to 744).")
    hours = max(1, min(24 * 31, int(hours_text)))
    end = timezone.now()
    start = end - timedelta(hours=hours)
    device = Device.objects.filter(pk=device_id).first() if device_id and device_id.isdigit() else None
    labels, device_ids = ([label] if label else None), ([device.pk] if device else None)
    access.require(request.user, labels=labels or [], device_ids=device_ids or [])
    context: dict[str, object] = {"label": label, "device": device, "hours": hours}
    if labels or device_ids:
        series = queries.power_series(start=start, end=end, labels=labels, device_ids=device_ids)
        xs = [m.timestamp() for m, _, _ in series]
        span = (f"{series[0][0]:%Y-%m-%d %H:%M}", f"{series[-1][0]:%H:%M} UTC") if series else ("", "")
        context["power_chart"] = line_chart(
            [("average power", list(zip(xs, [p for _, p, _ in series], strict=True)))],
            title="Average power per minute",
            y_unit="W",
            x_labels=span,
        )
        context["energy_chart"] = line_chart(
            [("cumulative energy", list(zip(xs, [e for _, _, e in series], strict=True)))],
            title="Cumulative energy",
            y_unit="kWh",
            x_labels=span,
        )
        context["energy"] = queries.energy(start=start, end=end, labels=labels, device_ids=device_ids)
    return render(request, "telemetry/chart.html", context)
