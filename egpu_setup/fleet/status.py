"""Each Mac's stack from its facts, and its drift from the plan its build resolves to and from the lock.

A record per host (`HostStatus.to_dict()`, the JSON of `egpu-setup status --json`, schema status.schema.json):
its build and one item per part of the stack with the value found, the value expected and whether they differ.
The expected values come from the matrix (the plan for the Mac's own build, profile and GPU, as provision would
resolve it; nothing is fetched) and from the lock beside the inventory (egpu-setup.lock).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egpu_setup.errors import EgpuError
from egpu_setup.runner.plans import PlanInputs

STATUS_KIND = "lab_status"
STATUS_SCHEMA_VERSION = 1
WEBDRIVER_KEXT_ID = "com.nvidia.NVDAStartupWeb"
CUDA_KEXT_ID = "com.nvidia.CUDA"
CLT_RECEIPT = "com.apple.pkg.CLTools_Executables"
WEBDRIVER_RECEIPT = "com.nvidia.web-driver"
# The verify checks whose figures the page draws: check name -> measurement keys.
FIGURES = {
    "link.bandwidth": ("h2d_gbps", "d2h_gbps", "theoretical_gbps"),
    "gpu.compute": ("gflops", "peak_gflops"),
    "mxnet.train": ("images_per_s",),
}


@dataclass
class Item:
    name: str
    value: str | None
    expected: str | None = None
    drift: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "expected": self.expected, "drift": self.drift,
                "note": self.note}  # fmt: skip


@dataclass
class HostStatus:
    host: str
    reachable: bool
    error: str | None = None
    build: str | None = None
    items: list[Item] = field(default_factory=list)
    verify: dict[str, Any] | None = None

    @property
    def drift(self) -> list[str]:
        return ["reachable"] if not self.reachable else [item.name for item in self.items if item.drift]

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "reachable": self.reachable, "error": self.error, "build": self.build,
                "drift": self.drift, "items": [i.to_dict() for i in self.items], "verify": self.verify}  # fmt: skip


def host_statuses(hosts: list[str], facts: dict[str, dict[str, Any]], inputs: dict[str, PlanInputs],
                  failed: dict[str, str]) -> list[HostStatus]:  # fmt: skip
    """One record per host of the inventory (in its order); a host the play could not read is drift."""
    from egpu_setup.cache import Lock

    built: dict[str, set[str]] = {}  # lock file -> libmxnet.so's digests in its build archives
    matrices: dict[str | None, Any] = {}  # per overlay: loading and checking the matrix once, not once per Mac
    out: list[HostStatus] = []
    for host in hosts:
        mac, host_inputs = facts.get(host), inputs.get(host)
        if mac is None or host_inputs is None:
            out.append(HostStatus(host, reachable=False, error=failed.get(host, "not read")))
            continue
        lock_file = host_inputs.lock_file
        if lock_file and lock_file not in built:
            # a damaged lock is bad input (exit 2), as everywhere
            built[lock_file] = built_libraries(Lock.load(lock_file), host_inputs.cache_dir)
        plan, plan_error = _plan(host_inputs, matrices)
        status = HostStatus(host, reachable=True, build=mac.get("build") or None)
        status.items = stack_items(mac, plan, plan_error, built.get(lock_file or ""))
        status.verify = verify_summary(mac.get("probes", {}).get("verify_report", {}))
        status.items.append(_verify_item(status.verify))
        out.append(status)
    return out


def _plan(inputs: PlanInputs, matrices: dict[str | None, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The plan for the Mac's build as provision would resolve it (no cache: status fetches nothing), or why not;
    `matrices` keeps each overlay's loaded matrix for the next Mac."""
    from egpu_setup.matrix import load_matrix

    try:
        if inputs.overlay not in matrices:
            matrices[inputs.overlay] = load_matrix(overlay=Path(inputs.overlay) if inputs.overlay else None)
        matrix = matrices[inputs.overlay]
        gpu = inputs.gpu
        if isinstance(gpu, str) and gpu.lower().startswith("0x"):
            gpu = int(gpu, 16)
        resolution = matrix.resolve(inputs.build, profile=inputs.profile, gpu=gpu, allow_nearest=inputs.allow_nearest)
    except (EgpuError, ValueError) as exc:
        return None, getattr(exc, "message", str(exc))
    return resolution.to_dict(), None


def _version(plan: dict[str, Any] | None, artifact_id: str, key: str = "version") -> str | None:
    artifact = (plan or {}).get("artifacts", {}).get(artifact_id)
    if not isinstance(artifact, dict):
        return None
    value = artifact.get(key)
    if isinstance(value, dict):  # the CLT's receipt: {id, version}
        value = value.get("version")
    return str(value) if value is not None else None


def _compare(name: str, value: str | None, expected: str | None, note: str = "") -> Item:
    """An item that drifts when the plan wants something (expected) and the Mac has another value."""
    return Item(name, value, expected, drift=expected is not None and value != expected, note=note)


LIBRARY = "lib/libmxnet.so"  # in a build archive (egpu_setup.builds)


def built_libraries(lock: Any, cache_dir: str | None) -> set[str]:
    """The SHA-256 of libmxnet.so in each build archive the lock records (origin built) and the cache holds: what
    a Mac of this lab should have, whichever build key it has."""
    from egpu_setup.builds.archive import ArchiveError, read_manifest
    from egpu_setup.cache import Cache

    cache = Cache(cache_dir) if cache_dir else Cache()
    found: set[str] = set()
    for entry in lock.entries.values():
        if entry.origin != "built" or not cache.has(entry.sha256):
            continue
        try:
            manifest = read_manifest(cache.path_for(entry.sha256))
        except ArchiveError:
            continue  # `cache verify` names a damaged file; status reports Macs
        found.update(f["sha256"] for f in manifest["files"] if f.get("path") == LIBRARY)
    return found


def stack_items(
    mac: dict[str, Any], plan: dict[str, Any] | None, plan_error: str | None, built: set[str] | None
) -> list[Item]:
    receipts, plists, kexts = mac.get("receipts", {}), mac.get("plists", {}), mac.get("kexts_loaded", {})
    probes = mac.get("probes", {})
    build = mac.get("build") or None
    items = [Item("build", build, plan and plan.get("matrix_build"), drift=plan is None,
                  note=plan_error or f"macOS {mac.get('product_version', '?')}")]  # fmt: skip
    sip = mac.get("sip") or {}
    items.append(Item("sip", sip.get("status"), "kext signing off", drift=bool(mac.get("kext_signing_enforced"))))
    filevault = mac.get("filevault") or {}
    items.append(Item("filevault", filevault.get("status") or None))
    webdriver = receipts.get(WEBDRIVER_RECEIPT)
    items.append(_compare("webdriver", webdriver, _version(plan, "webdriver")))
    loaded = kexts.get(WEBDRIVER_KEXT_ID)
    items.append(Item("webdriver_loaded", loaded or "not loaded", webdriver,
                      drift=webdriver is not None and loaded is None,
                      note="" if mac.get("nvda_drv_on") else "nvram nvda_drv is not set"))  # fmt: skip
    patch = bool((plan or {}).get("webdriver_patch", {}).get("required"))
    required = plists.get("webdriver_required_os")
    items.append(Item("required_os", required, build if patch else None,
                      drift=webdriver is not None and required is not None and required != build,
                      note=f"NVDARequiredOS against the running build {build}"))  # fmt: skip
    items.append(egpu_item(mac))
    items.append(_compare("cuda_driver", plists.get("cuda_driver"), _version(plan, "cuda_driver"),
                          note="CUDA.kext " + (kexts.get(CUDA_KEXT_ID) or "not loaded")))  # fmt: skip
    items.append(_compare("cuda_toolkit", mac.get("nvcc_version"), _version(plan, "cuda_toolkit")))
    cudnn = probes.get("cudnn_version", {})
    found_cudnn = (cudnn.get("stdout") or None) if cudnn.get("rc") == 0 else None
    items.append(_compare("cudnn", found_cudnn, _version(plan, "cudnn")))
    clt = receipts.get(CLT_RECEIPT)
    selected = f"selected: {mac.get('xcode_select_path')}"
    items.append(_compare("clt", clt, _version(plan, "clt", "receipt"), note=selected))
    items.append(mxnet_item(probes.get("mxnet_sha256", {}), plan, built or set()))
    return items


def egpu_item(mac: dict[str, Any]) -> Item:
    """The NVIDIA GPU and its link: PCIe lane width (SPDisplaysDataType) and the enclosure's Thunderbolt speed."""
    gpu = mac.get("nvidia_gpu")
    if not gpu:
        return Item("egpu", None, "an NVIDIA GPU", drift=True, note="no NVIDIA GPU in system_profiler")
    enclosures = mac.get("thunderbolt_enclosures") or []
    speed = enclosures[0].get("speed") if enclosures else None
    link = ", ".join(part for part in (gpu.get("lane_width"), speed) if part)
    return Item("egpu", str(gpu.get("chipset_model") or gpu.get("device_id")), note=f"link: {link or 'unknown'}")


def mxnet_item(probe: dict[str, Any], plan: dict[str, Any] | None, built: set[str]) -> Item:
    """libmxnet.so's SHA-256 on the Mac; against the lab's build archives (the lock's `built` entries) where it has
    any, else only its presence where the plan builds MXNet."""
    digest = (probe.get("stdout") or "").split("\n")[0].strip() or None
    wanted = _version(plan, "mxnet_source") is not None
    if built:
        recorded = ", ".join(sorted(built))
        return Item("mxnet", digest, recorded, drift=digest not in built, note="libmxnet.so against the lab's build")
    return Item("mxnet", digest, None, drift=wanted and digest is None,
                note="libmxnet.so SHA-256 (the lock records no build of it)")  # fmt: skip


def verify_summary(probe: dict[str, Any]) -> dict[str, Any] | None:
    """The last verify report on the Mac (the gpu_verify role leaves it there): time, outcome, counts, each
    check's status and the figures the page draws."""
    if probe.get("rc") != 0 or not probe.get("stdout"):
        return None
    try:
        report = json.loads(probe["stdout"])
    except ValueError:
        return {"started": None, "outcome": "unreadable", "checks": {}, "figures": {}}
    checks = {c.get("name"): c.get("status") for c in report.get("checks", []) if isinstance(c, dict)}
    figures: dict[str, float] = {}
    for check in report.get("checks", []):
        for key in FIGURES.get(check.get("name"), ()):
            value = (check.get("measurements") or {}).get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                figures[f"{check['name']}.{key}"] = float(value)
    summary = report.get("summary") or {}
    return {"started": report.get("started"), "outcome": summary.get("outcome"),
            "passed": summary.get("passed"), "failed": summary.get("failed"), "skipped": summary.get("skipped"),
            "checks": checks, "figures": figures}  # fmt: skip


def _verify_item(verify: dict[str, Any] | None) -> Item:
    if verify is None:
        return Item("verify", None, "pass", drift=True, note="no verify report on the Mac")
    return Item("verify", verify.get("outcome"), "pass", drift=verify.get("outcome") != "pass",
                note=f"at {verify.get('started')}")  # fmt: skip


def status_document(statuses: list[HostStatus]) -> dict[str, Any]:
    """The body of the JSON document (Context.emit_json adds schema_version and kind)."""
    return {
        "status_schema_version": STATUS_SCHEMA_VERSION,
        "drift": any(s.drift for s in statuses),
        "hosts": [s.to_dict() for s in statuses],
    }
