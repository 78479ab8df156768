"""Where readings come from: NVML on a real GPU host, the host's own CPU packages and
memory through Linux powercap (RAPL), or simulated GPUs and hosts."""

from __future__ import annotations

import logging
import math
import random
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("greenlight.agent")


@dataclass(frozen=True)
class DeviceInfo:
    uuid: str
    name: str
    index: int
    driver: str
    energy_counter: bool  # whether the cumulative energy counter is supported
    kind: str = "gpu"  # "gpu", or "host" for a host's CPU packages and memory


@dataclass(frozen=True)
class Reading:
    device: str  # uuid
    ts: float  # seconds since the epoch, UTC
    energy_mj: int | None  # cumulative counter, millijoules; None where unsupported
    power_w: float | None
    power_limit_w: float | None
    gpu_util: int | None
    mem_util: int | None
    mem_used_mb: int | None
    temp_c: int | None
    sm_clock_mhz: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backend(Protocol):
    def devices(self) -> list[DeviceInfo]: ...

    def read(self) -> tuple[list[Reading], list[str]]:
        """Readings of every device that answered, and one error line per device that did not."""
        ...

    def close(self) -> None: ...


class NvmlBackend:
    """Reads real GPUs through nvidia-ml-py. A device that fails is reported and
    skipped; the others go on."""

    def __init__(self) -> None:
        import pynvml  # imported here: a host without the NVIDIA driver can still simulate

        self.nvml = pynvml
        pynvml.nvmlInit()
        driver = pynvml.nvmlSystemGetDriverVersion()
        self.driver = driver.decode() if isinstance(driver, bytes) else driver
        self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        self._devices = [self._describe(i, h) for i, h in enumerate(self.handles)]

    @staticmethod
    def _text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    def _describe(self, index: int, handle: Any) -> DeviceInfo:
        nv = self.nvml
        try:
            nv.nvmlDeviceGetTotalEnergyConsumption(handle)
            counter = True
        except nv.NVMLError:
            counter = False
        return DeviceInfo(
            uuid=self._text(nv.nvmlDeviceGetUUID(handle)),
            name=self._text(nv.nvmlDeviceGetName(handle)),
            index=index,
            driver=self.driver,
            energy_counter=counter,
        )

    def devices(self) -> list[DeviceInfo]:
        return self._devices

    def _optional(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except self.nvml.NVMLError_NotSupported:
            return None

    def read(self) -> tuple[list[Reading], list[str]]:
        nv = self.nvml
        readings, errors = [], []
        for info, handle in zip(self._devices, self.handles, strict=True):
            try:
                util = self._optional(nv.nvmlDeviceGetUtilizationRates, handle)
                memory = self._optional(nv.nvmlDeviceGetMemoryInfo, handle)
                power = self._optional(nv.nvmlDeviceGetPowerUsage, handle)  # milliwatts
                limit = self._optional(nv.nvmlDeviceGetEnforcedPowerLimit, handle)
                readings.append(
                    Reading(
                        device=info.uuid,
                        ts=time.time(),
                        energy_mj=self._optional(nv.nvmlDeviceGetTotalEnergyConsumption, handle)
                        if info.energy_counter
                        else None,
                        power_w=None if power is None else power / 1000,
                        power_limit_w=None if limit is None else limit / 1000,
                        gpu_util=None if util is None else util.gpu,
                        mem_util=None if util is None else util.memory,
                        mem_used_mb=None if memory is None else memory.used // (1024 * 1024),
                        temp_c=self._optional(nv.nvmlDeviceGetTemperature, handle, nv.NVML_TEMPERATURE_GPU),
                        sm_clock_mhz=self._optional(nv.nvmlDeviceGetClockInfo, handle, nv.NVML_CLOCK_SM),
                    )
                )
            except nv.NVMLError as exc:  # GpuIsLost and friends: this device only
                errors.append(f"{info.uuid}: {exc}")
        return readings, errors

    def close(self) -> None:
        self.nvml.nvmlShutdown()


class SimulatedGpu:
    """An H100-like GPU: idle, a ramp, then a steady training load with noise. Its
    energy counter is the exact integral of its power, so it is the truth."""

    IDLE_W, LOAD_W, LIMIT_W = 70.0, 640.0, 700.0

    def __init__(self, index: int, start: float, seed: int) -> None:
        self.index = index
        self.uuid = f"GPU-SIM{seed:04d}-{index:04d}-0000-0000-{index:012d}"
        self.rng = random.Random(seed * 1000 + index)  # noqa: S311 (a simulation, not a secret)
        self.start = start
        self.last_ts = start
        self.energy_j = 1_000_000.0 * (index + 1)  # counters do not start at zero
        self.power_w = self.IDLE_W

    def power_at(self, t: float) -> float:
        elapsed = t - self.start
        idle_s, ramp_s = 2.0 + self.index, 3.0
        if elapsed < idle_s:
            base = self.IDLE_W
        elif elapsed < idle_s + ramp_s:
            base = self.IDLE_W + (self.LOAD_W - self.IDLE_W) * (elapsed - idle_s) / ramp_s
        else:
            base = self.LOAD_W + 25 * math.sin(elapsed / 7.0)  # steady load with a slow wobble
        return max(0.0, min(self.LIMIT_W, base + self.rng.gauss(0, 8)))

    def sample(self, t: float) -> Reading:
        new_power = self.power_at(t)
        self.energy_j += (self.power_w + new_power) / 2 * max(0.0, t - self.last_ts)
        self.power_w, self.last_ts = new_power, t
        load = max(0.0, new_power - self.IDLE_W) / (self.LOAD_W - self.IDLE_W)  # noise dips below idle
        return Reading(
            device=self.uuid,
            ts=t,
            energy_mj=int(self.energy_j * 1000),
            power_w=round(new_power, 3),
            power_limit_w=self.LIMIT_W,
            gpu_util=min(100, round(load * 97)),
            mem_util=min(100, round(load * 45)),
            mem_used_mb=round(2_000 + load * 70_000),
            temp_c=round(32 + load * 38),
            sm_clock_mhz=round(345 + load * 1635),
        )


class ManualClock:
    """A clock that moves only when told: drives simulated GPUs through past time
    (demo data, benchmarks, tests) as fast as the machine allows."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SimulatedBackend:
    def __init__(self, count: int, *, seed: int = 1, clock: Any = time.time, host: bool = False) -> None:
        self.clock = clock
        start = clock()
        self.gpus = [SimulatedGpu(i, start, seed) for i in range(count)]
        self.host = SimulatedHost(self.gpus, seed) if host else None

    def devices(self) -> list[DeviceInfo]:
        gpus = [DeviceInfo(g.uuid, "NVIDIA H100 80GB HBM3 (simulated)", g.index, "simulated", True) for g in self.gpus]
        return gpus + ([self.host.info] if self.host else [])

    def read(self) -> tuple[list[Reading], list[str]]:
        now = self.clock()
        readings = [g.sample(now) for g in self.gpus]
        if self.host is not None:
            readings.append(self.host.sample(now))
        return readings, []

    def close(self) -> None:
        pass


POWERCAP = Path("/sys/class/powercap")


@dataclass(frozen=True)
class RaplZone:
    path: Path
    name: str
    max_energy_uj: int  # the counter wraps to 0 after this value


def rapl_zones(root: Path = POWERCAP) -> list[RaplZone]:
    """The CPU package zones (intel-rapl:N) and their DRAM subzones (intel-rapl:N:M named
    "dram"). Core and uncore subzones lie inside their package and would count twice; the
    "psys" zone covers the whole platform and would too."""
    zones = []
    for path in sorted(root.glob("intel-rapl:*")):
        try:
            name = (path / "name").read_text().strip()
            max_uj = int((path / "max_energy_range_uj").read_text())
        except (OSError, ValueError):
            continue
        package = path.name.count(":") == 1
        if (package and name.startswith("package")) or (not package and name == "dram"):
            zones.append(RaplZone(path, name, max_uj))
    return zones


class RaplHost:
    """The host's CPU packages and memory as one device with a cumulative energy counter.

    RAPL counters are microjoules that wrap at max_energy_range_uj (every few minutes to
    hours under load); each read adds the wrap-corrected delta of every zone, so the
    reported counter only grows. A restarted agent starts a new sum, which the agent
    flags as a counter reset."""

    def __init__(self, zones: list[RaplZone], *, hostname: str | None = None, clock: Any = time.time) -> None:
        if not zones:
            raise ValueError("no RAPL package or DRAM zones")
        self.zones = zones
        self.clock = clock
        host = hostname or socket.gethostname()
        self.info = DeviceInfo(
            uuid=f"HOST-{host}-rapl"[:96],
            name=f"{host}: {', '.join(z.name for z in zones)} (RAPL)",
            index=0,
            driver="powercap",
            energy_counter=True,
            kind="host",
        )
        self.last = {z.path: self._raw(z) for z in zones}
        self.total_uj = sum(self.last.values())
        self.last_ts = clock()

    @staticmethod
    def _raw(zone: RaplZone) -> int:
        return int((zone.path / "energy_uj").read_text())

    def read(self) -> tuple[list[Reading], list[str]]:
        try:
            raws = {z.path: self._raw(z) for z in self.zones}
        except (OSError, ValueError) as exc:  # e.g. energy_uj readable by root only
            return [], [f"{self.info.uuid}: {exc}"]
        now = self.clock()
        delta = 0
        for zone in self.zones:
            raw, last = raws[zone.path], self.last[zone.path]
            delta += raw - last if raw >= last else raw + zone.max_energy_uj - last
        self.last = raws
        self.total_uj += delta
        elapsed, self.last_ts = now - self.last_ts, now
        power = round(delta / 1e6 / elapsed, 3) if elapsed > 0 else None
        reading = Reading(self.info.uuid, now, self.total_uj // 1000, power, None, None, None, None, None, None)
        return [reading], []


def host_energy(root: Path = POWERCAP) -> RaplHost | None:
    """The host's RAPL counters, or None (with the reason logged) where the machine does not
    expose them: the server then adds an estimated host share, labelled as estimated."""
    zones = rapl_zones(root)
    if not zones:
        log.info("no RAPL counters under %s: host energy will be estimated by the server", root)
        return None
    try:
        return RaplHost(zones)
    except (OSError, ValueError) as exc:
        log.warning("RAPL counters not readable (%s): host energy will be estimated by the server", exc)
        return None


class SimulatedHost:
    """A host's CPUs and memory: a base draw plus a share of its GPUs' load."""

    BASE_W, PER_GPU_LOAD = 180.0, 0.3

    def __init__(self, gpus: list[SimulatedGpu], seed: int) -> None:
        self.gpus = gpus
        self.info = DeviceInfo(
            f"HOST-SIM{seed:04d}-rapl", "Simulated host CPUs and memory (RAPL)", 0, "simulated", True, "host"
        )
        self.energy_j = 5_000_000.0
        self.power_w = self.BASE_W
        self.last_ts = gpus[0].start if gpus else 0.0

    def sample(self, t: float) -> Reading:
        new_power = self.BASE_W + self.PER_GPU_LOAD * sum(g.power_w for g in self.gpus)
        self.energy_j += (self.power_w + new_power) / 2 * max(0.0, t - self.last_ts)
        self.power_w, self.last_ts = new_power, t
        return Reading(
            self.info.uuid, t, int(self.energy_j * 1000), round(new_power, 3), None, None, None, None, None, None
        )


class WithHost:
    """A GPU backend plus the host's own energy, read on the same tick."""

    def __init__(self, gpus: Backend, host: RaplHost) -> None:
        self.gpus = gpus
        self.host = host

    def devices(self) -> list[DeviceInfo]:
        return [*self.gpus.devices(), self.host.info]

    def read(self) -> tuple[list[Reading], list[str]]:
        readings, errors = self.gpus.read()
        host_readings, host_errors = self.host.read()
        return readings + host_readings, errors + host_errors

    def close(self) -> None:
        self.gpus.close()
