"""Reading flat installer packages (xar) on the controller, in one streaming pass through libarchive.

A flat .pkg is a xar archive. A product archive holds a `Distribution` and one `<name>.pkg/` directory per
component; a component holds `PackageInfo` (its identifier, version, install-location) and `Payload` (gzip'd cpio).
`read` walks the xar once and lists each Payload as it streams by (libarchive reads xar, cpio and gzip), so no
package is held in memory. A package that stays on the Mac (inside a mounted dmg) is described from `pkgutil
--expand`'s PackageInfo and `lsbom -s` lines instead (`LISTING_SCRIPT`, `from_listing`); both end in `FlatPackage`.
"""

from __future__ import annotations

import io
import posixpath
import re
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

if TYPE_CHECKING:
    import libarchive


class PackageFormatError(Exception):
    """The file is not a flat package this reader understands."""


class ReaderUnavailable(PackageFormatError):
    """libarchive-c is installed but cannot load the system's libarchive."""


def _libarchive() -> Any:
    """libarchive-c, imported when a package is read: it loads the system's libarchive at import, and a controller
    without it must get the remedy, not a traceback from every plugin that imports this module."""
    try:
        import libarchive
        import libarchive.exception
    except (ImportError, OSError, AttributeError) as exc:
        raise ReaderUnavailable(
            f"cannot read installer packages on this controller: libarchive-c found no libarchive ({exc})\n"
            "fix: install the system's libarchive (Debian: apt-get install libarchive13, which scripts/setup does; "
            "macOS: brew install libarchive, then set LIBARCHIVE to its lib/libarchive.dylib)"
        ) from None
    return libarchive


@dataclass(frozen=True)
class Component:
    """One component package, as its PackageInfo names it."""

    identifier: str
    version: str
    install_location: str = "/"


@dataclass
class FlatPackage:
    """What the controller needs of a package: its Distribution, components and the absolute paths it installs."""

    distribution: str | None = None
    components: list[Component] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _package_info(blob: bytes, where: str) -> Component:
    try:
        root = ElementTree.fromstring(blob)
    except ElementTree.ParseError as exc:
        raise PackageFormatError(f"{where}: PackageInfo is not XML") from exc
    return Component(root.get("identifier", ""), root.get("version", ""), root.get("install-location", "/") or "/")


def _absolute(location: str, names: Iterable[str]) -> Iterator[str]:
    """Payload names ('./Library/X', '.') under the component's install-location, directories included."""
    for name in names:
        rel = name[2:] if name.startswith("./") else name.lstrip("/")
        if rel not in ("", "."):
            yield posixpath.normpath(posixpath.join(location, rel.rstrip("/")))


def _assemble(distribution: str | None, infos: dict[str, Component], payloads: dict[str, list[str]]) -> FlatPackage:
    """Components in directory order, each payload under its own component's install-location."""
    paths: list[str] = []
    for directory in sorted(payloads):
        location = infos[directory].install_location if directory in infos else "/"
        paths.extend(_absolute(location, payloads[directory]))
    return FlatPackage(distribution, [infos[d] for d in sorted(infos)], list(dict.fromkeys(paths)))


class _EntryStream(io.RawIOBase):
    """The data of the xar member being read, as a file for a nested libarchive reader (no copy of the member)."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._rest:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._rest = bytes(block)
        size = min(len(buffer), len(self._rest))
        buffer[:size] = self._rest[:size]
        self._rest = self._rest[size:]
        return size


def _data(entry: libarchive.ArchiveEntry) -> Iterator[bytes]:
    """The member's bytes, exactly the TOC's size of them.

    libarchive 3.6's xar reader follows a member's data with zeros (archive_read_data fills a "hole" up to an
    offset carried over from the members before it), so reading to the end would append them.
    """
    left = entry.size
    for block in entry.get_blocks():
        if left <= 0:
            return
        yield block[:left]
        left -= len(block)


def _payload_names(blocks: Iterable[bytes]) -> list[str]:
    """Entry names of a Payload (cpio, gzip'd or not), read as the outer archive streams it."""
    with _libarchive().stream_reader(_EntryStream(blocks), format_name="cpio") as payload:
        return [entry.pathname for entry in payload]


def read(pkg: Path) -> FlatPackage:
    """The package's Distribution, components and payload paths, from one pass over the file."""
    distribution: str | None = None
    infos: dict[str, Component] = {}
    payloads: dict[str, list[str]] = {}
    libarchive = _libarchive()
    try:
        with libarchive.file_reader(str(pkg), format_name="xar") as archive:
            for entry in archive:
                name = entry.pathname.rstrip("/")
                directory, base = posixpath.split(name)
                if entry.isdir:
                    continue
                if name == "Distribution":
                    distribution = b"".join(_data(entry)).decode("utf-8")
                elif base == "PackageInfo":
                    infos[directory] = _package_info(b"".join(_data(entry)), f"{pkg.name}: {name}")
                elif base == "Payload":
                    payloads[directory] = _payload_names(_data(entry))
    except libarchive.exception.ArchiveError as exc:
        raise PackageFormatError(f"{pkg.name} is not a flat package libarchive can read ({exc})") from None
    if not payloads:
        raise PackageFormatError(f"{pkg.name} has no Payload")
    return _assemble(distribution, infos, payloads)


# A package on the Mac: its components' PackageInfo and Bom listings, printed between markers for `from_listing`.
# `pkgutil --expand` (pkgutil(1)) writes the members as files; `lsbom -s` (lsbom(8)) prints the payload's paths.
LISTING_SCRIPT = (
    'x={dir}; rm -rf "$x" && pkgutil --expand {pkg} "$x" && (for d in "$x" "$x"/*.pkg; do '
    'if [ -f "$d/PackageInfo" ]; then echo "@@component ${{d#$x}}"; cat "$d/PackageInfo" && echo && '
    'echo @@bom && lsbom -s "$d/Bom" || exit 1; fi; done); rc=$?; rm -rf "$x"; exit $rc'
)


def from_listing(text: str, where: str) -> FlatPackage:
    """The FlatPackage that `LISTING_SCRIPT` printed (no Distribution: it is only read for local packages)."""
    infos: dict[str, Component] = {}
    payloads: dict[str, list[str]] = {}
    directory, section = "", ""
    lines: list[str] = []

    def close() -> None:
        if section == "info":
            infos[directory] = _package_info("\n".join(lines).encode(), f"{where}: {directory or '.'}")
        elif section == "bom":
            payloads[directory] = [line for line in lines if line]

    for line in text.splitlines():
        if line.startswith("@@component"):
            close()
            directory, section, lines = line.removeprefix("@@component").strip().strip("/"), "info", []
        elif line == "@@bom":
            close()
            section, lines = "bom", []
        else:
            lines.append(line)
    close()
    if not payloads:
        raise PackageFormatError(f"{where}: no component package found in it")
    return _assemble(None, infos, payloads)


_CHECKS = re.compile(
    r"<(installation-check|volume-check)\b[^>]*/>|<(installation-check|volume-check)\b[^>]*>.*?</\2>", re.S
)


def drop_installation_check(text: str) -> tuple[str, int]:
    """Remove the <installation-check>/<volume-check> elements that make a pkg refuse other builds.

    NVIDIA's web driver Distribution runs an installation-check script that compares the running build with the one
    the driver was made for; without the element Installer skips the script. Returns (new text, elements removed).
    """
    return _CHECKS.subn("", text)


def extract_member(archive: Path, member: str, dest_dir: Path) -> Path:
    """Copy the file `member` out of the zip `archive` into `dest_dir` (as egpu.io ships NVDAEGPUSupport); its path.

    Only a top-level member of that exact name is taken, so nothing in the zip can write outside `dest_dir`.
    """
    if "/" in member or member in ("", ".", ".."):
        raise PackageFormatError(f"{member!r} is not the name of a file at the top of a zip")
    try:
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
            if member not in names:
                top = sorted({n.split("/", 1)[0] for n in names if not n.startswith("__MACOSX")})
                listed = ", ".join(top) or "nothing"
                raise PackageFormatError(f"{archive.name} holds no {member} (at its top: {listed})")
            target = dest_dir / member
            with z.open(member) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
    except zipfile.BadZipFile as exc:
        raise PackageFormatError(f"{archive.name} is not a zip archive ({exc})") from None
    return target
