"""The matrix's records, built by the validator from checked YAML: builds, artifacts, GPUs, links, profiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Artifact ids: stable names used by the cache index, the lock file, overlays and the roles' `egpu_plan`.
ARTIFACT_IDS: tuple[str, ...] = (
    "webdriver",
    "egpu_support",
    "cuda_driver",
    "cuda_toolkit",
    "cudnn",
    "clt",
    "python3",
    "mxnet_source",
    "numpy",
)

# The GPU of the seed procedure (a GTX 1080 in an AORUS Gaming Box): a profile's target unless it names another.
DEFAULT_GPU = "gtx1080"

# Fields every artifact's JSON starts with, in this order; id-specific fields follow.
_LEADING_FIELDS = ("id", "version", "filename", "url", "sha256")


@dataclass(frozen=True)
class Artifact:
    """One downloadable file at one version. `fields` holds every validated field of its matrix entry."""

    fields: dict[str, Any]
    source: str = ""  # "file:line" of the entry, for messages

    @property
    def id(self) -> str:
        return str(self.fields["id"])

    @property
    def version(self) -> str:
        return str(self.fields["version"])

    @property
    def key(self) -> str:
        """`id@version`: how messages and `--as` name one artifact."""
        return f"{self.id}@{self.version}"

    @property
    def filename(self) -> str:
        return str(self.fields["filename"])

    @property
    def url(self) -> str | None:
        return self.fields.get("url")

    @property
    def sha256(self) -> str | None:
        return self.fields.get("sha256")

    @property
    def sha512(self) -> str | None:
        """A published SHA-512 (the cache checks it too); the cache still names files by SHA-256."""
        return self.fields.get("sha512")

    @property
    def size(self) -> int | None:
        """The file's exact size in bytes where a public source gives it: a download larger is refused."""
        return self.fields.get("size")

    @property
    def builds(self) -> tuple[str, ...]:
        """For an enabler package (egpu_support): the macOS builds it was made for."""
        return tuple(self.fields.get("builds", ()))

    @property
    def confidence(self) -> str:
        return str(self.fields.get("confidence", "high"))

    @property
    def built_for(self) -> str | None:
        return self.fields.get("built_for")

    @property
    def webdriver_major(self) -> int | None:
        """For a web driver, the first part of its version; for a CUDA driver, the web driver series it needs."""
        if self.id == "webdriver":
            return int(self.version.split(".")[0])
        return self.fields.get("webdriver_major")

    @property
    def cuda(self) -> tuple[str, ...]:
        """The CUDA versions it is for (toolkit, cuDNN) or serves (CUDA driver)."""
        value = self.fields.get("cuda")
        if value is None:
            return ()
        return tuple(value) if isinstance(value, list | tuple) else (str(value),)

    @property
    def product_versions(self) -> tuple[str, ...]:
        return tuple(self.fields.get("product_versions", ()))

    @property
    def filename_patterns(self) -> tuple[str, ...]:
        return tuple(self.fields.get("filename_patterns", ()))

    def __hash__(self) -> int:  # `fields` is a dict, so the generated hash would fail
        return hash((self.key, self.url, self.sha256))

    def to_dict(self) -> dict[str, Any]:
        out = {name: self.fields.get(name) for name in _LEADING_FIELDS}
        out.update({name: value for name, value in self.fields.items() if name not in out})
        return out


@dataclass(frozen=True)
class MacosBuild:
    build: str
    product_version: str
    webdrivers: tuple[str, ...]  # oldest first; the last is the newest NVIDIA made for this build
    confidence: str
    note: str | None = None

    @property
    def native_webdriver(self) -> str:
        return self.webdrivers[-1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "product_version": self.product_version,
            "webdrivers": list(self.webdrivers),
            "confidence": self.confidence,
            "note": self.note,
        }


@dataclass(frozen=True)
class Gpu:
    key: str
    name: str
    pci_device_id: int
    compute_capability: str
    cuda_cores: int
    boost_clock_mhz: int
    fp32_gflops: int
    memory_gb: int
    memory_bandwidth_gbs: int
    confidence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "pci_device_id": f"0x{self.pci_device_id:04x}",
            "compute_capability": self.compute_capability,
            "cuda_cores": self.cuda_cores,
            "boost_clock_mhz": self.boost_clock_mhz,
            "fp32_gflops": self.fp32_gflops,
            "memory_gb": self.memory_gb,
            "memory_bandwidth_gbs": self.memory_bandwidth_gbs,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class Link:
    key: str
    fields: dict[str, Any]

    @property
    def bandwidth_gbs(self) -> float:
        return float(self.fields["bandwidth_gbs"])

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.fields}


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    # artifact id -> a version, or "native" (webdriver) / "auto" (cuda_driver)
    picks: dict[str, str] = field(default_factory=dict)
    gpu: str = DEFAULT_GPU

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, **self.picks, "gpu": self.gpu}
