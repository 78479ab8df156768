"""Agents, their GPUs, raw samples (a partitioned table written with COPY, see
migrations/0002), quarantined samples and per-minute rollups."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

ANY_LABEL = "*"  # a namespace that lets an agent write any label: an explicit, fleet-wide choice


def label_namespaces_field() -> ArrayField:  # type: ignore[type-arg]
    return ArrayField(
        models.CharField(max_length=80),
        default=list,
        help_text="Label namespaces its agents may write (labels 'namespace/…'); '*' for any label.",
    )


class KeyKind(models.TextChoices):
    AGENT = "agent", "GPU agent (telemetry batches only)"
    CODECARBON = "codecarbon", "CodeCarbon client (CodeCarbon runs only)"


class EnrolmentToken(models.Model):
    """Lets a GPU host enrol an agent once; the agent then uses its own key."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0, editable=False)
    max_uses = models.PositiveIntegerField(default=1, help_text="How many agents it may enrol (one host each).")
    label_namespaces = label_namespaces_field()
    kind = models.CharField(max_length=12, choices=KeyKind.choices, default=KeyKind.AGENT)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class AgentQuerySet(models.QuerySet["Agent"]):
    def active(self) -> AgentQuerySet:
        return self.filter(revoked_at__isnull=True)


class Agent(models.Model):
    hostname = models.CharField(max_length=255)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    enrolment_token = models.ForeignKey(EnrolmentToken, on_delete=models.SET_NULL, null=True, blank=True)
    agent_version = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    label_namespaces = label_namespaces_field()
    kind = models.CharField(max_length=12, choices=KeyKind.choices, default=KeyKind.AGENT)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"{self.hostname} (agent {self.pk})"

    def may_write(self, label: str) -> bool:
        """An empty label (no job) is anyone's; otherwise the label's namespace must be the agent's."""
        if not label or ANY_LABEL in self.label_namespaces:
            return True
        return any(label.startswith(f"{namespace}/") for namespace in self.label_namespaces)


class SealedLabel(models.Model):
    """A label no more samples may be written under: its run closed, or its figures were
    approved. Late samples for it are quarantined with the reason."""

    label = models.CharField(max_length=200, unique=True)
    sealed_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.label} (sealed: {self.reason})"


class DeviceKind(models.TextChoices):
    GPU = "gpu", "Accelerator (GPU)"
    HOST = "host", "Host CPUs and memory (RAPL)"


class Attribution(models.TextChoices):
    """How a shared GPU's metered energy is apportioned to its shares."""

    ENGINE_ACTIVE = "engine_active", "By each share's graphics-engine activity (DCGM GR_ENGINE_ACTIVE)"
    EQUAL = "equal", "Equal split (no activity per share)"


class Device(models.Model):
    """A GPU, or a host's CPU packages and memory read through RAPL: both report a
    cumulative energy counter, and energy queries keep the two apart. A GPU shared by
    several jobs (MIG instances, or pods time-slicing it) also has one device per share
    (`parent` is the GPU): the GPU's samples carry its metered energy and no label, each
    share's carry its part of the power and its job's label."""

    uuid = models.CharField(max_length=96, unique=True)
    kind = models.CharField(max_length=8, choices=DeviceKind.choices, default=DeviceKind.GPU)
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=200)
    index = models.PositiveSmallIntegerField(default=0)
    driver = models.CharField(max_length=64, blank=True)
    energy_counter = models.BooleanField(default=False, help_text="Cumulative energy counter supported (Volta+).")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_power_w = models.FloatField(null=True, blank=True)
    last_label = models.CharField(max_length=200, blank=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="shares")
    attribution = models.CharField(max_length=16, choices=Attribution.choices, blank=True)

    class Meta:
        ordering = ["agent__hostname", "index"]

    def __str__(self) -> str:
        return f"{self.name} #{self.index} ({self.uuid})"


class Sample(models.Model):
    """A raw reading. The table is created by SQL (range-partitioned by day, BRIN on
    time); this model only reads it. Writes go through ingest.py with COPY."""

    pk = models.CompositePrimaryKey("device_id", "ts")
    device = models.ForeignKey(Device, on_delete=models.DO_NOTHING, db_constraint=False)
    ts = models.DateTimeField()
    label = models.CharField(max_length=200)
    energy_mj = models.BigIntegerField(null=True)
    power_w = models.FloatField(null=True)
    power_limit_w = models.FloatField(null=True)
    gpu_util = models.SmallIntegerField(null=True)
    mem_util = models.SmallIntegerField(null=True)
    mem_used_mb = models.IntegerField(null=True)
    temp_c = models.SmallIntegerField(null=True)
    sm_clock_mhz = models.IntegerField(null=True)
    counter_reset = models.BooleanField(default=False)
    batch_id = models.BigIntegerField()

    class Meta:
        managed = False
        db_table = "telemetry_sample"

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.ts:%Y-%m-%d %H:%M:%S}"


class IngestBatch(models.Model):
    """One received batch; (agent, seq) makes a resent batch a no-op."""

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="batches")
    seq = models.BigIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)
    samples = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    duplicated = models.PositiveIntegerField(default=0)
    quarantined = models.PositiveIntegerField(default=0)
    min_ts = models.DateTimeField(null=True)
    max_ts = models.DateTimeField(null=True)
    rolled_up = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "seq"], name="ingest_batch_once_per_agent")]
        indexes = [models.Index(fields=["rolled_up", "min_ts"], condition=Q(rolled_up=False), name="batch_pending")]

    def __str__(self) -> str:
        return f"batch {self.seq} of agent {self.agent_id}"


class QuarantinedSample(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="quarantined")
    batch_seq = models.BigIntegerField()
    device_uuid = models.CharField(max_length=96, blank=True)
    payload = models.JSONField()
    reason = models.CharField(max_length=300)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.device_uuid or '?'}: {self.reason}"


class Method(models.TextChoices):
    COUNTER = "counter", "Energy counter deltas"
    POWER = "power", "Power integration"
    MIXED = "mixed", "Counter deltas, power integration where no counter"


class MinuteRollup(models.Model):
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="rollups")
    minute = models.DateTimeField()
    label = models.CharField(max_length=200)
    energy_j = models.FloatField()
    idle_energy_j = models.FloatField(help_text="Energy while GPU utilisation was below the idle threshold.")
    method = models.CharField(max_length=8, choices=Method.choices)
    covered_s = models.FloatField(help_text="Seconds of this minute covered by consecutive samples.")
    samples = models.PositiveIntegerField()
    avg_power_w = models.FloatField(null=True)
    max_power_w = models.FloatField(null=True)
    # The minute's first and last sample, so that a label's active span is read from the
    # rollups, never from the raw samples. Empty on rows rolled up before they were kept.
    first_ts = models.DateTimeField(null=True)
    last_ts = models.DateTimeField(null=True)

    class Meta:
        ordering = ["device", "minute"]
        constraints = [
            models.UniqueConstraint(fields=["device", "minute", "label"], name="rollup_one_per_device_minute_label")
        ]
        indexes = [models.Index(fields=["label", "minute"]), models.Index(fields=["minute"])]

    def __str__(self) -> str:
        return f"{self.device_id} {self.minute:%Y-%m-%d %H:%M} {self.label}: {self.energy_j:.0f} J"


class CodeCarbonExperiment(models.Model):
    """A CodeCarbon experiment. Its runs' energy is reported under `label`, the same
    job label GPU agents use, so governance can attribute it to a run."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="codecarbon_experiments")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    label = models.CharField(max_length=200)
    country_iso_code = models.CharField(max_length=3, blank=True)
    region = models.CharField(max_length=100, blank=True)
    cloud_provider = models.CharField(max_length=40, blank=True)
    cloud_region = models.CharField(max_length=100, blank=True)
    facility = models.ForeignKey(
        "lca.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Where the machines run, for its PUE; else the catalogue's facility of the cloud region named.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} → {self.label}"


class CodeCarbonRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    experiment = models.ForeignKey(CodeCarbonExperiment, on_delete=models.PROTECT, related_name="runs")
    started_at = models.DateTimeField()
    details = models.JSONField(default=dict, help_text="What the client reported: OS, CPU, GPU, region…")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"run {self.id} of {self.experiment.name}"


class CodeCarbonEmission(models.Model):
    """One upload: a delta since the previous one. Energy is the machine's (CPU, GPU
    and RAM): CodeCarbon's default PUE is 1.0, so the facility's PUE is applied unless
    the client reported a PUE of its own. Greenlight recomputes carbon with its own
    factors and keeps the client's figure as client-claimed."""

    run = models.ForeignKey(CodeCarbonRun, on_delete=models.CASCADE, related_name="emissions")
    timestamp = models.DateTimeField()
    duration_s = models.FloatField()
    energy_kwh = models.FloatField()
    cpu_energy_kwh = models.FloatField(null=True)
    gpu_energy_kwh = models.FloatField(null=True)
    ram_energy_kwh = models.FloatField(null=True)
    cpu_power_w = models.FloatField(null=True)
    gpu_power_w = models.FloatField(null=True)
    ram_power_w = models.FloatField(null=True)
    client_pue = models.FloatField(null=True, help_text="The PUE the client applied, where it said so.")
    client_claimed_kgco2e = models.FloatField(null=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["timestamp"]
        constraints = [
            models.CheckConstraint(condition=Q(energy_kwh__gte=0), name="codecarbon_energy_non_negative"),
            models.CheckConstraint(condition=Q(duration_s__gte=0), name="codecarbon_duration_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.energy_kwh:.6f} kWh over {self.duration_s:.0f} s"


class MetricsStore(models.Model):
    """A Prometheus-compatible query endpoint (Prometheus, Mimir, Thanos, VictoriaMetrics,
    Cortex) holding a fleet's dcgm-exporter series. Greenlight asks it for per-window
    aggregates only. Its credential is never stored: `secret_env` names the environment
    variable that holds the bearer token or the basic-auth password."""

    class Auth(models.TextChoices):
        NONE = "none", "None"
        BEARER = "bearer", "Bearer token"
        BASIC = "basic", "Basic auth"

    name = models.CharField(max_length=200)
    url = models.URLField(help_text="The query API's base, e.g. http://prometheus:9090 or https://mimir/prometheus.")
    auth = models.CharField(max_length=8, choices=Auth.choices, default=Auth.NONE)
    username = models.CharField(max_length=200, blank=True, help_text="For basic auth.")
    secret_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[RegexValidator(r"^[A-Z_][A-Z0-9_]*$", "An environment variable's name, in capitals.")],
        help_text="The environment variable holding the token or password (its value is never stored or shown).",
    )
    scrape_interval_s = models.PositiveIntegerField(
        default=15, help_text="How often the store scrapes dcgm-exporter: the coverage counts its samples."
    )
    timeout_s = models.PositiveIntegerField(default=10)
    facility = models.ForeignKey(
        "lca.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Runs at this facility are measured from this store (unless their project names another).",
    )

    def __str__(self) -> str:
        return self.name


class StoreReading(models.Model):
    """One answer of a metrics store for one label and window: the query asked, where and
    when, and what came back — energy per GPU and coverage, or why there is none."""

    class Status(models.TextChoices):
        OK = "ok", "Answered"
        EMPTY = "empty", "No series for the label"
        DOWN = "down", "Store unreachable or refused"
        TIMEOUT = "timeout", "Store did not answer in time"

    store = models.ForeignKey(MetricsStore, on_delete=models.PROTECT, related_name="readings")
    label = models.CharField(max_length=200)
    start = models.DateTimeField()
    end = models.DateTimeField()
    url = models.URLField(help_text="The store's URL when it was asked.")
    query = models.TextField()
    asked_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices)
    energy_kwh = models.FloatField(null=True)
    coverage = models.FloatField(default=0.0)
    per_gpu = models.JSONField(default=dict, help_text="GPU UUID → {energy_kwh, samples}.")
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["label", "-asked_at"])]

    def __str__(self) -> str:
        return f"{self.store} {self.label} {self.status}"


class TokenCounter(models.Model):
    """The last value seen of one series of an inference server's token or request counter
    (vLLM's), so that each write counts only what rose since: a replayed or overlapping
    write counts nothing twice."""

    label = models.CharField(max_length=200)
    metric = models.CharField(max_length=100)
    series = models.CharField(max_length=64, help_text="SHA-256 of the series' other labels.")
    last_ts = models.DateTimeField()
    last_value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["label", "metric", "series"], name="token_counter_once_per_series")
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.metric}"
