from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import READ_SCOPE
from lca.api import serializers as s
from lca.models import Facility, GridRegion, HardwareModel, Supplier
from lca.present import estimate_data
from lca.services import EstimateError, EstimateRequest, compare, estimate, plan_start


def _estimate_or_400(run: Any) -> Any:
    try:
        return run()
    except EstimateError as exc:
        raise serializers.ValidationError({exc.field_name or "non_field_errors": [str(exc)]}) from exc


class EstimateView(APIView):
    scope_read = scope_write = READ_SCOPE  # a computation: it writes nothing

    @extend_schema(request=s.EstimateInput, responses={200: s.EstimateOutput})
    def post(self, request: Request) -> Response:
        """A what-if footprint with ranges and the source of every factor."""
        data = s.EstimateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(estimate_data(_estimate_or_400(lambda: estimate(data.to_request()))))


class CompareView(APIView):
    scope_read = scope_write = READ_SCOPE  # a computation: it writes nothing

    @extend_schema(request=s.CompareInput, responses={200: s.ComparisonOutput})
    def post(self, request: Request) -> Response:
        """Several scenarios side by side, ranked by location-based carbon, with the gaps explained,
        overlapping ranges marked not distinguishable, and a warning where grid-factor bases differ."""
        body = s.CompareInput(data=request.data)
        body.is_valid(raise_exception=True)
        scenarios: list[tuple[str, EstimateRequest]] = []
        errors = {}
        for index, raw in enumerate(body.validated_data["scenarios"]):
            scenario = s.ScenarioInput(data=raw)
            if scenario.is_valid():
                scenarios.append((scenario.validated_data["name"], scenario.to_request()))
            else:
                errors[f"scenarios[{index}]"] = [f"{k}: {' '.join(map(str, v))}" for k, v in scenario.errors.items()]
        if errors:
            raise serializers.ValidationError(errors)
        return Response(s.comparison_data(_estimate_or_400(lambda: compare(scenarios))))


class GridRegionList(generics.ListAPIView):  # type: ignore[type-arg]
    scope_read = READ_SCOPE
    serializer_class = s.GridRegionOutput
    queryset = GridRegion.objects.all()
    filterset_fields = ["kind", "basis", "year", "code"]
    ordering_fields = ["code", "intensity_g_per_kwh", "year"]


class GridRegionDetail(generics.RetrieveAPIView):  # type: ignore[type-arg]
    scope_read = READ_SCOPE
    serializer_class = s.GridRegionOutput
    queryset = GridRegion.objects.all()
    lookup_field = "code"
    lookup_url_kwarg = "code"


class SupplierList(generics.ListAPIView):  # type: ignore[type-arg]
    scope_read = READ_SCOPE
    serializer_class = s.SupplierOutput
    queryset = Supplier.objects.all()
    filterset_fields = ["kind", "slug"]


class FacilityList(generics.ListAPIView):  # type: ignore[type-arg]
    scope_read = READ_SCOPE
    serializer_class = s.FacilityOutput
    filterset_fields = ["supplier__slug", "grid_region__code", "slug"]

    def get_queryset(self) -> QuerySet[Facility]:
        return Facility.objects.select_related("supplier", "grid_region")


class HardwareList(generics.ListAPIView):  # type: ignore[type-arg]
    scope_read = READ_SCOPE
    serializer_class = s.HardwareOutput
    queryset = HardwareModel.objects.all()
    filterset_fields = ["kind", "vendor", "slug"]


class ScheduleView(APIView):
    scope_read = scope_write = READ_SCOPE  # a computation: it writes nothing

    @extend_schema(request=s.ScheduleInput, responses={200: s.ScheduleOutput})
    def post(self, request: Request) -> Response:
        """The lowest-carbon start hour and region for a job, from stored hourly intensities."""
        data = s.ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        schedule = _estimate_or_400(
            lambda: plan_start(
                regions=v["regions"],
                duration_h=v["duration_h"],
                energy_kwh=v["energy_kwh"],
                earliest=v["earliest"],
                current=v.get("current_region"),
            )
        )
        return Response(s.schedule_data(schedule))
