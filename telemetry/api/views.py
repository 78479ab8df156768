from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import authentication, exceptions, generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import READ_SCOPE, StrictSerializer, TokenScopes
from config.metrics import REMOTE_WRITE_SERIES, count_ingest
from telemetry import access, queries, remote_write, tasks
from telemetry.ingest import MAX_SAMPLES_PER_BATCH, BatchRejected, ingest_batch
from telemetry.models import Agent, Device, KeyKind, QuarantinedSample
from telemetry.remote_write import V1, V2
from telemetry.services import EnrolmentRefused, authenticate_agent, enrol_agent

MAX_BATCH_BYTES = 8 * 1024 * 1024  # decompressed; a full batch of 20,000 samples is about 5 MiB
# Objects cost far more parsed than as text ("{}," is 3 bytes, a dict is about 60): count
# them first, cheaply, so a small body of tiny samples cannot take the worker's memory.
MAX_OBJECTS = 2 * MAX_SAMPLES_PER_BATCH + 1000


class AgentKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Agent gla_…` (or `Bearer gla_…`, as Prometheus' remote_write sends
    it). Used by the ingest endpoints only, so an agent key can do nothing else."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0].lower() not in ("agent", "bearer"):
            return None
        agent = authenticate_agent(header[1]) if len(header) == 2 else None
        if agent is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked agent key.")
        return None, agent

    def authenticate_header(self, request: Request) -> str:
        return "Agent"


class IsAgent(permissions.BasePermission):
    """A GPU agent's key: the only credential ingest accepts (not a CodeCarbon key)."""

    message = "This endpoint takes a GPU agent's key (Authorization: Agent …)."
    kind = KeyKind.AGENT

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Agent) and request.auth.kind == self.kind


class EnrolInput(StrictSerializer):
    enrolment_token = serializers.CharField()
    hostname = serializers.CharField(max_length=255)


class EnrolView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=EnrolInput, responses={201: dict})
    def post(self, request: Request) -> Response:
        """Exchanges an enrolment token for an agent id and a key that can only ingest."""
        data = EnrolInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            agent, key = enrol_agent(**data.validated_data)
        except EnrolmentRefused as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        return Response({"agent_id": agent.pk, "key": key}, status=status.HTTP_201_CREATED)


def agent_of(request: Request) -> Agent:
    """The agent whose key signed the request (IsAgent lets no one else through)."""
    if not isinstance(request.auth, Agent):
        raise exceptions.NotAuthenticated()
    return request.auth


def _read_json(request: Request) -> Any:
    body = request.body
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = inflater.decompress(body, MAX_BATCH_BYTES)
            if inflater.unconsumed_tail:
                raise exceptions.ParseError(f"The decompressed batch exceeds {MAX_BATCH_BYTES // 2**20} MiB.")
        except zlib.error as exc:
            raise exceptions.ParseError(f"Body is not valid gzip: {exc}") from exc
    if len(body) > MAX_BATCH_BYTES:
        raise exceptions.ParseError(f"The batch exceeds {MAX_BATCH_BYTES // 2**20} MiB.")
    if body.count(b"{") > MAX_OBJECTS:
        raise exceptions.ParseError(f"A batch holds at most {MAX_SAMPLES_PER_BATCH:,} samples.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise exceptions.ParseError(f"Body is not valid JSON: {exc}") from exc


class BatchView(APIView):
    authentication_classes = [AgentKeyAuthentication]
    permission_classes = [IsAgent]
    throttle_classes: list[Any] = []  # bounded per batch instead; a fleet shares few addresses

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        """Stores a batch of raw samples (JSON, optionally gzip). Idempotent on (agent, batch_seq)."""
        try:
            result = ingest_batch(agent=agent_of(request), payload=_read_json(request))
        except BatchRejected as exc:
            raise exceptions.ValidationError({"batch": [str(exc)]}) from exc
        count_ingest("agent", result)
        if settings.TELEMETRY_ROLLUP_INLINE and result.accepted:
            tasks.roll_up.delay()
        return Response(
            {
                "batch_seq": result.batch_seq,
                "duplicate_batch": result.duplicate_batch,
                "received": result.received,
                "accepted": result.accepted,
                "duplicated": result.duplicated,
                "quarantined": result.quarantined,
                "reasons": dict(result.reasons),
            }
        )


class RemoteWriteView(APIView):
    """Prometheus Remote-Write 1.0 and 2.0: dcgm-exporter's GPU series, stored as agent batches."""

    authentication_classes = [AgentKeyAuthentication]
    permission_classes = [IsAgent]
    throttle_classes: list[Any] = []

    @extend_schema(request=bytes, responses={204: None})
    def post(self, request: Request) -> Response:
        if request.headers.get("Content-Encoding", "").lower() != "snappy":
            raise exceptions.ParseError("Remote-Write bodies are snappy-compressed (Content-Encoding: snappy).")
        media, _, params = request.headers.get("Content-Type", "").partition(";")
        proto = dict(p.strip().partition("=")[::2] for p in params.split(";") if p.strip()).get("proto", V1)
        if media.strip().lower() != "application/x-protobuf" or proto not in (V1, V2):
            raise exceptions.UnsupportedMediaType(
                request.headers.get("Content-Type", ""),
                detail=f"Send application/x-protobuf with proto={V1} (Remote-Write 1.0) or proto={V2} (2.0).",
            )
        try:
            body = request.body
        except RequestDataTooBig as exc:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20
            raise exceptions.ParseError(
                f"The compressed write exceeds {limit} MiB: lower remote_write's queue_config.max_samples_per_send."
            ) from exc
        try:
            result = remote_write.write(agent=agent_of(request), body=body, proto=proto)
        except (remote_write.MalformedWrite, BatchRejected) as exc:
            raise exceptions.ValidationError({"write": [str(exc)]}) from exc
        for batch in result.results:
            count_ingest("remote_write", batch)
        REMOTE_WRITE_SERIES.labels("accepted").inc(result.accepted_series)
        REMOTE_WRITE_SERIES.labels("refused").inc(result.refused)
        REMOTE_WRITE_SERIES.labels("ignored").inc(result.series - result.accepted_series - result.refused)
        if settings.TELEMETRY_ROLLUP_INLINE and result.accepted:
            tasks.roll_up.delay()
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if proto == V2:  # what a 2.0 sender reads back
            response["X-Prometheus-Remote-Write-Samples-Written"] = str(result.accepted)
            response["X-Prometheus-Remote-Write-Histograms-Written"] = "0"
            response["X-Prometheus-Remote-Write-Exemplars-Written"] = "0"
        return response


class DeviceOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    hostname = serializers.CharField(source="agent.hostname")

    class Meta:
        model = Device
        fields = [
            "id",
            "uuid",
            "name",
            "index",
            "hostname",
            "driver",
            "energy_counter",
            "last_seen_at",
            "last_power_w",
            "last_label",
        ]


class DeviceList(generics.ListAPIView):  # type: ignore[type-arg]
    """The devices that carried a label of a project you belong to (all of them for staff)."""

    serializer_class = DeviceOutput
    scope_read = READ_SCOPE
    filterset_fields = ["agent", "energy_counter", "last_label"]

    def get_queryset(self) -> QuerySet[Device]:
        return access.visible_devices(self.request.user)


class QuarantineOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = QuarantinedSample
        fields = ["id", "agent", "batch_seq", "device_uuid", "reason", "payload", "received_at"]


class QuarantineList(generics.ListAPIView):  # type: ignore[type-arg]
    """Refused samples of every agent: for staff, who run the fleet."""

    serializer_class = QuarantineOutput
    permission_classes = [permissions.IsAdminUser, TokenScopes]
    scope_read = READ_SCOPE
    queryset = QuarantinedSample.objects.all()
    filterset_fields = ["agent", "reason", "device_uuid"]


class EnergyQuery(StrictSerializer):
    label = serializers.ListField(child=serializers.CharField(), required=False)  # type: ignore[assignment]  # named like a Field attribute
    device = serializers.ListField(child=serializers.IntegerField(), required=False)
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)


class EnergyView(APIView):
    scope_read = READ_SCOPE

    @extend_schema(
        parameters=[
            OpenApiParameter("label", str, many=True),
            OpenApiParameter("device", int, many=True),
            OpenApiParameter("start", datetime),
            OpenApiParameter("end", datetime),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        """Energy (kWh) of labels and/or devices over a window (default: the last 24 hours), with coverage,
        method and idle energy."""
        query = EnergyQuery(
            data={
                k: request.query_params.getlist(k) if k in ("label", "device") else v
                for k, v in request.query_params.items()
            }
        )
        query.is_valid(raise_exception=True)
        q = query.validated_data
        if not q.get("label") and not q.get("device"):
            raise exceptions.ValidationError({"label": ["Give at least one label or device."]})
        access.require(request.user, labels=q.get("label") or [], device_ids=q.get("device") or [])
        end = q.get("end") or timezone.now()
        start = q.get("start") or end - timedelta(days=1)
        e = queries.energy(start=start, end=end, labels=q.get("label"), device_ids=q.get("device"))
        return Response(
            {
                **e.__dict__,
                "start": start,
                "end": end,
                "idle_threshold_util_percent": settings.TELEMETRY_IDLE_UTIL_PERCENT,
            }
        )


class AgentKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "telemetry.api.views.AgentKeyAuthentication"
    name = "agentKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "'Agent gla_…': an agent key, accepted by the ingest endpoints only.",
        }
