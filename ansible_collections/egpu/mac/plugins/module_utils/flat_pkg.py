"""Reading flat installer packages (xar) on the controller: the paths a package will install, and its Distribution.

A flat .pkg is a xar archive (header, zlib-compressed XML table of contents, heap). A product archive holds a
`Distribution` and one `<name>.pkg/` directory per component; a component holds `PackageInfo` (its
install-location) and `Payload` (gzip-compressed cpio, odc or newc). Format: the xar file format (mackyle/xar
wiki "xarformat") and Apple's flat package layout as `pkgutil --expand` shows it. Standard library only.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import shutil
import struct
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

_XAR_MAGIC = b"xar!"


class PackageFormatError(Exception):
    """The file is not a flat package this reader understands."""


def _xar_members(data: bytes) -> dict[str, bytes]:
    """name (with directories, '/'-joined) -> uncompressed bytes of every file member."""
    if data[:4] != _XAR_MAGIC:
        raise PackageFormatError("not a xar archive (flat package)")
    header_size, _version, toc_len, _toc_plain_len, _cksum = struct.unpack(">HHQQI", data[4:28])
    toc = ElementTree.fromstring(zlib.decompress(data[header_size : header_size + toc_len]))
    heap = header_size + toc_len
    members: dict[str, bytes] = {}

    def walk(node: ElementTree.Element, prefix: str) -> None:
        for item in node.findall("file"):
            name = posixpath.join(prefix, item.findtext("name", ""))
            if item.findtext("type", "file") == "directory":
                walk(item, name)
                continue
            dnode = item.find("data")
            if dnode is None:
                members[name] = b""
                continue
            offset = int(dnode.findtext("offset", "0"))
            length = int(dnode.findtext("length", "0"))
            raw = data[heap + offset : heap + offset + length]
            enc = dnode.find("encoding")
            style = enc.get("style", "") if enc is not None else ""
            if "gzip" in style:
                raw = zlib.decompress(raw)
            elif "bzip2" in style:
                import bz2

                raw = bz2.decompress(raw)
            members[name] = raw
        for sub in node.findall("toc"):
            walk(sub, prefix)

    walk(toc.find("toc") if toc.find("toc") is not None else toc, "")
    return members


def _cpio_names(data: bytes) -> list[str]:
    """Names in a cpio archive, odc (070707) or newc (070701/070702)."""
    names: list[str] = []
    pos = 0
    while pos < len(data):
        magic = data[pos : pos + 6]
        if magic == b"070707":
            namesize = int(data[pos + 59 : pos + 65], 8)
            filesize = int(data[pos + 65 : pos + 76], 8)
            name = data[pos + 76 : pos + 76 + namesize - 1].decode("utf-8", "replace")
            pos += 76 + namesize + filesize
        elif magic in (b"070701", b"070702"):
            filesize = int(data[pos + 54 : pos + 62], 16)
            namesize = int(data[pos + 94 : pos + 102], 16)
            name = data[pos + 110 : pos + 110 + namesize - 1].decode("utf-8", "replace")
            pos = (pos + 110 + namesize + 3) & ~3
            pos = (pos + filesize + 3) & ~3
        else:
            raise PackageFormatError("payload is not a cpio archive")
        if name == "TRAILER!!!":
            break
        names.append(name)
    return names


def components(pkg: Path) -> list[dict[str, str]]:
    """Each component's receipt id, version and install location, from its PackageInfo."""
    members = _xar_members(pkg.read_bytes())
    out = []
    for name in sorted(members):
        if posixpath.basename(name) != "PackageInfo":
            continue
        try:
            root = ElementTree.fromstring(members[name])
        except ElementTree.ParseError as exc:
            raise PackageFormatError(f"{pkg.name}: {name} is not XML") from exc
        out.append(
            {
                "identifier": root.get("identifier", ""),
                "version": root.get("version", ""),
                "install_location": root.get("install-location", "/") or "/",
            }
        )
    return out


def _install_location(package_info: bytes) -> str:
    try:
        root = ElementTree.fromstring(package_info)
    except ElementTree.ParseError:
        return "/"
    return root.get("install-location", "/") or "/"


def payload_paths(pkg: Path) -> list[str]:
    """Absolute paths the package installs (directories included), in archive order."""
    members = _xar_members(pkg.read_bytes())
    paths: list[str] = []
    payloads = sorted(name for name in members if posixpath.basename(name) == "Payload")
    if not payloads:
        raise PackageFormatError(f"{pkg.name} has no Payload")
    for name in payloads:
        component = posixpath.dirname(name)
        location = _install_location(members.get(posixpath.join(component, "PackageInfo"), b"<x/>"))
        data = members[name]
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for entry in _cpio_names(data):
            rel = entry[2:] if entry.startswith("./") else entry.lstrip("/")
            if rel in ("", "."):
                continue
            paths.append(posixpath.normpath(posixpath.join(location, rel)))
    return list(dict.fromkeys(paths))


def distribution(pkg: Path) -> str | None:
    """The product archive's Distribution text, or None for a component package."""
    members = _xar_members(pkg.read_bytes())
    data = members.get("Distribution")
    return data.decode("utf-8") if data is not None else None


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
