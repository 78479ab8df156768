"""Reference-data catalogue and the estimate page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from lca.charts import range_bars
from lca.forms import EstimateForm
from lca.inputs import InvalidRequest, request_from_data
from lca.models import Facility, GridRegion, HardwareModel, RegionKind, Supplier, procurement_score
from lca.present import estimate_data
from lca.services import Estimate, EstimateError, estimate
from lca.uncertainty import Range


@login_required
def grid_regions(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    regions = GridRegion.objects.all()
    if query:
        regions = regions.filter(Q(code__icontains=query) | Q(name__icontains=query))
    if kind in RegionKind.values:
        regions = regions.filter(kind=kind)
    page = Paginator(regions, 50).get_page(request.GET.get("page"))
    context = {"page": page, "q": query, "kind": kind, "kinds": RegionKind.choices}
    return render(request, "lca/grid_regions.html", context)


@login_required
def facilities(request: HttpRequest) -> HttpResponse:
    rows = Facility.objects.select_related("supplier", "grid_region")
    return render(request, "lca/facilities.html", {"facilities": rows})


@login_required
def suppliers(request: HttpRequest) -> HttpResponse:
    rows = [(s, *procurement_score(s)) for s in Supplier.objects.prefetch_related("data_requests")]
    return render(request, "lca/suppliers.html", {"rows": rows})


@login_required
def hardware(request: HttpRequest) -> HttpResponse:
    return render(request, "lca/hardware.html", {"hardware": HardwareModel.objects.all()})


def breakdown_chart(result: Estimate) -> str:
    f = result.footprint
    items: list[tuple[str, Range]] = [
        ("Location-based", f.location_based_kgco2e),
        ("Market-based", f.market_based_kgco2e),
    ]
    if f.embodied_kgco2e is not None:
        items.append(("Embodied (amortised)", f.embodied_kgco2e))
    return range_bars(items, "kgCO2e", title="Carbon by accounting view")


@login_required
def estimate_page(request: HttpRequest) -> HttpResponse:
    form = EstimateForm(request.GET or None)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        body = form.api_body()
        try:
            result = estimate(request_from_data(body))
        except InvalidRequest as exc:
            for field, messages in exc.errors.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, f"{field}: {message}")
        except EstimateError as exc:
            form.add_error(None, str(exc))
        else:
            context.update(result=estimate_data(result), chart=breakdown_chart(result), body=body)
    return render(request, "lca/estimate.html", context)
