"""Stand-in installers for the rehearsal lab, in the real formats, built on Linux.

`build_standins(out_dir)` writes every stand-in into `out_dir` (the lab's `<lab>/mirror`) under the file name
the matrix gives its artifact, and returns them as `StandIn` records; `write_overlay(path, standins)` writes the
matrix overlay that points the artifacts at them (file:// URLs, SHA-256, sizes, and the SHA-512 of the
NVDAEGPUSupport zips, whose publisher gives only that), so the cache and the lock work unchanged. cuDNN and the CLT,
whose downloads need a login, get `url: null`: the lab imports them with the cache's `add`, as a user would.

This package's `__init__` imports only the standard library at module scope: the command shims inside a host
(hdiutil imports `standins.udif`) run on a bare interpreter.

Outputs are deterministic where cheap (fixed mtimes, sorted members, gzip headers without time); the Mach-O
libraries come from zig. Modules: flat packages in macos.xar_pkg, disk images in udif, the Mach-O in machos,
one builder module per product (numpy_wheel: the numpy wheel MXNet's Python package needs).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

WEBDRIVER_VERSION = "387.10.10.10.25.156"
WEBDRIVER_BUILT_FOR = ("17D47", "10.13.3")
CUDA_DRIVER_VERSION = "387.128"


@dataclass(frozen=True)
class StandIn:
    artifact: str  # matrix artifact id
    version: str
    path: Path
    sha256: str
    url: str | None  # file:// URL, or None where the real download needs a login (`cache add`)
    sha512: str | None = None  # for artifacts whose real publisher gives a SHA-512 (the matrix entry has `sha512`)

    @property
    def filename(self) -> str:
        return self.path.name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sha512(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha512").hexdigest()


def build_mirror(mirror: Path, overlay: Path, work: Path | None = None, cache: Path | None = None) -> list[StandIn]:
    """What `lab up` calls: every stand-in into `mirror`, the matrix overlay pointing at them into `overlay`, and
    the login-only stand-ins (no URL) imported into the lab's artifact cache as `egpu-setup cache add` would.

    `cache` defaults to the lab layout's `<lab>/cache` beside `<lab>/mirror` (docs/architecture.md) when it exists.
    """
    standins = build_standins(mirror, work=work)
    write_overlay(overlay, standins)
    if cache is None and (Path(mirror).parent / "cache").is_dir():
        cache = Path(mirror).parent / "cache"
    if cache is not None:
        add_to_cache(standins, cache, overlay)
    return standins


def add_to_cache(standins: list[StandIn], cache_dir: Path, overlay: Path) -> list[Path]:
    """Import the stand-ins that have no URL (cuDNN, CLT) into an artifact cache, by hand as a user would with
    `egpu-setup cache add` (the lock is pinned later, by the first fetch that verifies them)."""
    from egpu_setup.cache.store import Cache
    from egpu_setup.matrix import load_matrix

    artifacts = load_matrix(Path(overlay)).artifacts
    store = Cache(cache_dir)
    return [
        store.add_file(s.path, artifacts[(s.artifact, s.version)], s.sha256)
        for s in standins
        if s.url is None and (s.artifact, s.version) in artifacts
    ]


def build_standins(out_dir: Path, clt_versions: tuple[str, ...] = ("9.2",), work: Path | None = None) -> list[StandIn]:
    """Build every stand-in into `out_dir` (scratch files under `work`, else a temp dir); stable order."""
    from egpu_lab import facts
    from egpu_lab.standins import clt, cuda, cudnn, egpu_support, mxnet, numpy_wheel, python3, webdriver

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    built: list[tuple[str, str, Path, bool]] = []  # artifact, version, file, has a public URL
    if work is not None:
        Path(work).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="egpu-standins-", dir=work) as tmp:
        work = Path(tmp)
        wd = out_dir / f"WebDriver-{WEBDRIVER_VERSION}.pkg"
        webdriver.build_webdriver_pkg(wd, work, WEBDRIVER_VERSION, *WEBDRIVER_BUILT_FOR)
        built.append(("webdriver", WEBDRIVER_VERSION, wd, True))
        for version in egpu_support.STANDIN_VERSIONS:  # egpu.io's zips: direct downloads, like the real ones
            built.append(("egpu_support", version, egpu_support.build_enabler_zip(out_dir, work, version), True))
        drv = out_dir / f"cudadriver_{CUDA_DRIVER_VERSION}_macos.dmg"
        cuda.build_driver_dmg(drv, work, CUDA_DRIVER_VERSION)
        built.append(("cuda_driver", CUDA_DRIVER_VERSION, drv, True))
        tk = out_dir / f"cuda_{cuda.TOOLKIT_VERSION}_mac.dmg"
        cuda.build_toolkit_dmg(tk, work, CUDA_DRIVER_VERSION)
        built.append(("cuda_toolkit", cuda.TOOLKIT_VERSION, tk, True))
        dnn = out_dir / "cudnn-9.1-osx-x64-v7-ga.tgz"
        cudnn.build_cudnn_tgz(dnn, work)
        built.append(("cudnn", cudnn.VERSION, dnn, False))
        for version in clt_versions:
            dmg = out_dir / f"Command_Line_Tools_macOS_10.13_for_Xcode_{version}.dmg"
            clt.build_clt_dmg(dmg, work, version)
            built.append(("clt", version, dmg, False))
        py = out_dir / facts.value("python3", "installer_filename")
        py_version = py.name.removeprefix("python-").split("-")[0]  # python-3.11.9-macos11.pkg -> 3.11.9
        python3.build_python_pkg(py, work, py_version)
        built.append(("python3", py_version, py, True))
        src = out_dir / "apache-mxnet-src-1.0.0-incubating.tar.gz"
        mxnet.build_source_tarball(src, work, "1.0.0")
        built.append(("mxnet_source", "1.0.0", src, True))
        wheel = numpy_wheel.build_wheel(out_dir)
        built.append(("numpy", facts.value("numpy", "version"), wheel, True))
    return [
        StandIn(a, v, p, _sha256(p), p.resolve().as_uri() if public else None, _sha512(p)) for a, v, p, public in built
    ]


def write_overlay(path: Path, standins: list[StandIn]) -> Path:
    """The matrix overlay carrying the stand-ins' URLs, file names, SHA-256, SHA-512 and sizes (egpu_setup.matrix).

    Stand-ins of versions the matrix does not list (CLT 9.3, a lab-only option) are left out: an overlay only
    replaces fields of existing entries.
    """
    import yaml

    from egpu_setup.matrix import load_matrix

    known = load_matrix().artifacts
    entries = []
    for s in standins:
        if (s.artifact, s.version) not in known:
            continue
        entry = {"id": s.artifact, "version": s.version, "filename": s.filename, "url": s.url, "sha256": s.sha256}
        # the stand-in's exact size replaces the real file's (numpy's 18 MB wheel): the downloader's limit
        entry["size"] = s.path.stat().st_size
        if known[(s.artifact, s.version)].sha512:  # the real publisher's digest kind: the lab's cache checks it too
            entry["sha512"] = s.sha512
        entries.append(entry)
    body = {"schema_version": 1, "artifacts": entries}
    header = (
        "# Written by the rehearsal lab: the stand-in installers in <lab>/mirror (egpu_lab.standins).\n"
    )
    Path(path).write_text(header + yaml.safe_dump(body, sort_keys=False))
    return Path(path)


def install_clt(root: Path, version: str) -> None:
    """Put a CLT release straight into a host tree (for `lab up --clt 9.3`), with its receipt, as installer would."""
    import time

    from egpu_lab.macos import receipts, xar_pkg
    from egpu_lab.standins import clt

    with tempfile.TemporaryDirectory(prefix="egpu-clt-") as tmp:
        staging = clt.stage(Path(tmp) / "clt", version)
        entries = xar_pkg.pack_tree(staging)
        written = xar_pkg.extract_entries(entries, Path(root))
        receipts.write(
            Path(root),
            receipts.Receipt(clt.RECEIPT_ID, clt.RELEASES[version].receipt_version, "", int(time.time()),
                             clt.PKG_NAME, [w.removeprefix("./") for w in written if w != "."]),
            xar_pkg.make_bom(entries),
        )  # fmt: skip
        shutil.rmtree(staging, ignore_errors=True)
