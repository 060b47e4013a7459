"""Package receipts in /private/var/db/receipts: `<id>.plist` (what pkgutil --pkg-info prints) and `<id>.bom`.

Source: pkgutil(1) ("receipts ... are stored in /private/var/db/receipts"), and public dumps of receipt plists
(keys InstallDate, InstallPrefixPath, InstallProcessName, PackageFileName, PackageIdentifier, PackageVersion;
binary plists). The .bom is the lab's Bom stand-in (see xar_pkg), listing the installed paths.
"""

from __future__ import annotations

import datetime as dt
import plistlib
from dataclasses import dataclass
from pathlib import Path

from egpu_lab.macos import xar_pkg

RECEIPTS_DIR = "/private/var/db/receipts"


@dataclass
class Receipt:
    identifier: str
    version: str
    prefix: str  # InstallPrefixPath: the install location without its leading '/', '' for '/'
    install_time: int
    package_file: str
    files: list[str]  # relative paths, as `pkgutil --files` prints them


def receipts_dir(root: Path) -> Path:
    return root / RECEIPTS_DIR.lstrip("/")


def write(root: Path, receipt: Receipt, bom: bytes) -> None:
    directory = receipts_dir(root)
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "InstallDate": dt.datetime.fromtimestamp(receipt.install_time, dt.UTC).replace(tzinfo=None),
        "InstallPrefixPath": receipt.prefix,
        "InstallProcessName": "installer",
        "PackageFileName": receipt.package_file,
        "PackageIdentifier": receipt.identifier,
        "PackageVersion": receipt.version,
    }
    (directory / f"{receipt.identifier}.bom").write_bytes(bom)
    with open(directory / f"{receipt.identifier}.plist", "wb") as f:
        plistlib.dump(data, f, fmt=plistlib.FMT_BINARY)


def read(root: Path, identifier: str) -> Receipt | None:
    directory = receipts_dir(root)
    try:
        with open(directory / f"{identifier}.plist", "rb") as f:
            data = plistlib.load(f)
    except (OSError, plistlib.InvalidFileException, ValueError):
        return None
    files: list[str] = []
    try:
        paths = xar_pkg.bom_paths((directory / f"{identifier}.bom").read_bytes())
        files = [p.removeprefix("./") for p in paths if p not in {".", "./"}]
    except (OSError, xar_pkg.PackageError):
        pass
    when = data.get("InstallDate")
    epoch = int(when.replace(tzinfo=dt.UTC).timestamp()) if isinstance(when, dt.datetime) else 0
    return Receipt(
        identifier=str(data.get("PackageIdentifier", identifier)),
        version=str(data.get("PackageVersion", "")),
        prefix=str(data.get("InstallPrefixPath", "")),
        install_time=epoch,
        package_file=str(data.get("PackageFileName", "")),
        files=files,
    )


def identifiers(root: Path) -> list[str]:
    directory = receipts_dir(root)
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.plist"))


def forget(root: Path, identifier: str) -> bool:
    directory = receipts_dir(root)
    found = False
    for suffix in (".plist", ".bom"):
        path = directory / f"{identifier}{suffix}"
        if path.exists():
            path.unlink()
            found = True
    return found
