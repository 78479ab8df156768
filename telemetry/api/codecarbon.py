"""The endpoints a stock CodeCarbon client (2.7 and later) calls when its
`api_endpoint` is https://<greenlight>/api/v1/codecarbon. Its `api_key`
(sent as x-api-token) is a Greenlight agent key: ingest only."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import READ_SCOPE, CheckedValues
from lca.models import Facility
from telemetry import codecarbon
from telemetry.api.views import IsAgent, agent_of
from telemetry.models import CodeCarbonExperiment, CodeCarbonRun, KeyKind
from telemetry.services import authenticate_agent


class IsCodeCarbonClient(IsAgent):
    """A CodeCarbon key: it writes CodeCarbon runs of its namespaces, and nothing else."""

    message = "This endpoint takes a CodeCarbon key (x-api-token), created with --codecarbon."
    kind = KeyKind.CODECARBON


class CodeCarbonTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = request.headers.get("x-api-token")
        if not raw:
            return None
        agent = authenticate_agent(raw)
        if agent is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked CodeCarbon key in x-api-token.")
        return None, agent

    def authenticate_header(self, request: Request) -> str:
        return "x-api-token"


class ExperimentInput(CheckedValues, serializers.Serializer):  # type: ignore[type-arg]
    # CodeCarbon sends more (timestamp, on_cloud, project_id, country_name); they are not needed.
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    label = serializers.CharField(max_length=200, required=False)  # type: ignore[assignment]  # named like a Field attribute
    country_iso_code = serializers.CharField(max_length=3, required=False, allow_null=True, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    cloud_provider = serializers.CharField(max_length=40, required=False, allow_null=True, allow_blank=True)
    cloud_region = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    facility = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Facility.objects.all(),
        required=False,
        allow_null=True,
        help_text="Greenlight's facility where the machines run (its PUE is applied unless the client reports one).",
    )


class CodeCarbonRunInput(CheckedValues, serializers.Serializer):  # type: ignore[type-arg]
    timestamp = serializers.DateTimeField()
    experiment_id = serializers.UUIDField()
    os = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    python_version = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    codecarbon_version = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    cpu_count = serializers.IntegerField(required=False, allow_null=True)
    cpu_model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    gpu_count = serializers.IntegerField(required=False, allow_null=True)
    gpu_model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    longitude = serializers.FloatField(required=False, allow_null=True)
    latitude = serializers.FloatField(required=False, allow_null=True)
    region = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    provider = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    ram_total_size = serializers.FloatField(required=False, allow_null=True)
    tracking_mode = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class EmissionInput(CheckedValues, serializers.Serializer):  # type: ignore[type-arg]
    timestamp = serializers.DateTimeField()
    run_id = serializers.UUIDField()
    duration = serializers.FloatField(min_value=0)
    emissions_sum = serializers.FloatField(min_value=0, required=False, allow_null=True)
    emissions_rate = serializers.FloatField(required=False, allow_null=True)
    cpu_power = serializers.FloatField(required=False, allow_null=True)
    gpu_power = serializers.FloatField(required=False, allow_null=True)
    ram_power = serializers.FloatField(required=False, allow_null=True)
    cpu_energy = serializers.FloatField(required=False, allow_null=True)
    gpu_energy = serializers.FloatField(required=False, allow_null=True)
    ram_energy = serializers.FloatField(required=False, allow_null=True)
    energy_consumed = serializers.FloatField(min_value=0)
    pue = serializers.FloatField(
        min_value=1, required=False, allow_null=True, help_text="The PUE the client applied (CodeCarbon's default 1)."
    )


class CodeCarbonView(APIView):
    authentication_classes = [CodeCarbonTokenAuthentication]
    permission_classes = [IsCodeCarbonClient]

    def validated(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:  # type: ignore[type-arg]
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class ExperimentOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    label = serializers.CharField()  # type: ignore[assignment]  # named like a Field attribute
    country_iso_code = serializers.CharField(allow_blank=True)
    region = serializers.CharField(allow_blank=True)
    cloud_provider = serializers.CharField(allow_blank=True)
    cloud_region = serializers.CharField(allow_blank=True)
    timestamp = serializers.DateTimeField()


def experiment_data(e: CodeCarbonExperiment) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "name": e.name,
        "description": e.description,
        "label": e.label,
        "country_iso_code": e.country_iso_code,
        "region": e.region,
        "cloud_provider": e.cloud_provider,
        "cloud_region": e.cloud_region,
        "timestamp": e.created_at,
    }


class ExperimentList(CodeCarbonView):
    @extend_schema(request=ExperimentInput, responses={201: ExperimentOutput})
    def post(self, request: Request) -> Response:
        try:
            experiment = codecarbon.create_experiment(agent=agent_of(request), data=self.validated(ExperimentInput))
        except codecarbon.LabelRefused as exc:
            raise exceptions.ValidationError({"label": [str(exc)]}) from exc
        return Response(experiment_data(experiment), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ExperimentOutput(many=True)}, operation_id="codecarbon_experiments_list")
    def get(self, request: Request) -> Response:
        return Response([experiment_data(e) for e in CodeCarbonExperiment.objects.filter(agent=agent_of(request))])


class ProjectExperimentList(CodeCarbonView):
    @extend_schema(responses={200: ExperimentOutput(many=True)})
    def get(self, request: Request, project_id: str) -> Response:
        # CodeCarbon's projects are not Greenlight's: every experiment of this key is listed.
        return Response([experiment_data(e) for e in CodeCarbonExperiment.objects.filter(agent=agent_of(request))])


class ExperimentDetail(CodeCarbonView):
    @extend_schema(responses={200: ExperimentOutput})
    def get(self, request: Request, pk: str) -> Response:
        return Response(experiment_data(get_object_or_404(CodeCarbonExperiment, pk=pk, agent=agent_of(request))))


class RunList(CodeCarbonView):
    @extend_schema(request=CodeCarbonRunInput, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = self.validated(CodeCarbonRunInput)
        experiment = CodeCarbonExperiment.objects.filter(pk=data["experiment_id"], agent=agent_of(request)).first()
        if experiment is None:
            raise exceptions.ValidationError({"experiment_id": ["Unknown experiment for this key."]})
        run = codecarbon.create_run(experiment=experiment, started_at=data["timestamp"], data=data)
        return Response({"id": str(run.id), "experiment_id": str(experiment.id)}, status=status.HTTP_201_CREATED)


class EmissionList(CodeCarbonView):
    @extend_schema(request=EmissionInput, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = self.validated(EmissionInput)
        run = CodeCarbonRun.objects.filter(pk=data["run_id"], experiment__agent=agent_of(request)).first()
        if run is None:
            raise exceptions.ValidationError({"run_id": ["Unknown run for this key."]})
        emission = codecarbon.record_emission(run=run, data=data)
        return Response({"id": emission.pk, "run_id": str(run.id)}, status=status.HTTP_201_CREATED)


class RunFootprintView(APIView):
    """For people: a run's energy and Greenlight's carbon beside the client's claim."""

    scope_read = READ_SCOPE

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: str) -> Response:
        run = get_object_or_404(CodeCarbonRun.objects.select_related("experiment"), pk=pk)
        f = codecarbon.run_footprint(run)
        carbon = f.estimate.footprint.location_based_kgco2e.as_dict() if f.estimate else None
        return Response(
            {
                "run_id": str(run.id),
                "experiment": run.experiment.name,
                "label": run.experiment.label,
                "energy_kwh": f.energy_kwh,
                "duration_s": f.duration_s,
                "location_based_kgco2e": carbon,
                "client_claimed_kgco2e": f.client_claimed_kgco2e,
                "note": f.note,
            }
        )


class CodeCarbonTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "telemetry.api.codecarbon.CodeCarbonTokenAuthentication"
    name = "codecarbonToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "x-api-token", "description": "A Greenlight agent key."}
