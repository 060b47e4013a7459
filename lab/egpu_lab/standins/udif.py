"""Disk images: a UDIF (.dmg) container, zlib-compressed like `hdiutil create -format UDZO`, around ISO 9660.

The UDIF layout follows the public descriptions of the format: Jonathan Levin, "Demystifying the DMG File Format"
(newosxbook.com/DMG.html), and libdmg-hfsplus (planetbeing/libdmg-hfsplus, dmg.h): the image's data fork holds the
compressed chunks; an XML property list (`resource-fork` > `blkx`) holds one `mish` table per partition whose
40-byte chunk entries map sectors to (type, offset, length) in the data fork (0x80000005 zlib, 0x00000001 raw,
0x00000000/0x00000002 zero fill, 0x7ffffffe comment, 0xffffffff end); a 512-byte `koly` trailer at the very end
points at both.

Divergence: NVIDIA's dmgs hold an HFS+ file system (behind a GUID partition map). Linux cannot write HFS+ without
extra packages, so the stand-ins hold ISO 9660 with Rock Ridge and Joliet (libarchive's `bsdtar --format iso9660`),
a file system hdiutil also mounts (hybrid CD images). `hdiutil attach` here extracts it read-only under /Volumes.
The volume name comes from the Joliet descriptor (case kept), else the primary one.
"""

from __future__ import annotations

import calendar
import io
import os
import plistlib
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
import time
import uuid
import zlib
from pathlib import Path

SECTOR = 512
CHUNK_SECTORS = 2048  # 1 MiB of image per compressed chunk
_KOLY = struct.Struct(">4sIIIQQQQQII16sII128sQQ120sII128sIQ12s")
_MISH = struct.Struct(">4sIQQQII24sII128sI")
_CHUNK = struct.Struct(">IIQQQQ")
ZLIB, RAW, ZERO, IGNORE, COMMENT, END = 0x80000005, 0x00000001, 0x00000000, 0x00000002, 0x7FFFFFFE, 0xFFFFFFFF
VOLUME_KEY = "egpu-rehearsal-volume-name"  # lab extension of the UDIF property list (see write_dmg)
FIXED_DATE = b"2018012300000000\x00"  # ISO 9660 dec-datetime: 17 bytes, fixed for deterministic images


class ImageError(Exception):
    """Not a disk image the lab can attach; `kind` says which hdiutil message applies."""

    def __init__(self, message: str, kind: str = "not recognized") -> None:
        super().__init__(message)
        self.kind = kind


def bsdtar() -> str:
    """libarchive's bsdtar: on the controller's PATH, or the host's /usr/bin/tar inside a rehearsal sandbox."""
    for candidate in (shutil.which("bsdtar"), "/.rehearsal/linux/usr/bin/bsdtar", "/usr/bin/tar"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise ImageError("bsdtar (libarchive) is needed to read and write ISO 9660 images", kind="tool")


def build_iso(src: Path, volume: str, mtime: int) -> bytes:
    """An ISO 9660 image (Rock Ridge + Joliet) of `src`, with every time stamp fixed.

    bsdtar reads the tree from a tar stream made here (sorted, mtimes only): read from a directory it would also
    record ctimes and readdir order, and the image's SHA-256 would change from one build to the next.
    """
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in [src, *sorted(src.rglob("*"))]:
            info = tar.gettarinfo(str(path), arcname=path.relative_to(src).as_posix() if path != src else ".")
            info.uid = info.gid = 0
            info.uname, info.gname = "root", "wheel"
            info.mtime = mtime
            info.pax_headers = {}
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    with tempfile.TemporaryDirectory(prefix="egpu-iso-") as tmp:
        out = Path(tmp) / "image.iso"
        options = f"iso9660:volume-id={volume},iso9660:joliet,iso9660:rockridge,iso9660:!pad,iso9660:iso-level=3"
        subprocess.run(
            [bsdtar(), "--format", "iso9660", "--options", options, "-cf", str(out), "@-"],
            input=stream.getvalue(),
            env={**os.environ, "TZ": "UTC"},  # libarchive writes local times; _fix_build_time expects UTC
            check=True,
            capture_output=True,
        )
        data = bytearray(out.read_bytes())
    return _fix_build_time(bytearray(data), mtime)


_INFO_TIME = re.compile(rb"INFO (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4})")


def _fix_build_time(data: bytearray, mtime: int) -> bytes:
    """Replace the time libarchive stamps at build (volume descriptors, root directory records, its INFO note)."""
    fixed = time.gmtime(mtime)
    # Volume descriptors (from sector 16, 2048 bytes each) carry 17-byte dec-datetimes at 813..880.
    for offset in range(16 * 2048, len(data), 2048):
        kind = data[offset]
        if data[offset + 1 : offset + 6] != b"CD001" or kind == 255:
            break
        if kind in (1, 2):
            for field in range(4):
                at = offset + 813 + 17 * field
                data[at : at + 17] = FIXED_DATE if field != 2 else b"0000000000000000\x00"
    m = _INFO_TIME.search(data)
    if m:
        built = time.strptime(m.group(1).decode(), "%a %b %d %H:%M:%S %Y")
        data[m.start(1) : m.end(1)] = time.strftime("%a %b %d %H:%M:%S %Y", fixed).encode()
        # 7-byte directory-record / Rock Ridge TF dates of the build time (the root directory's): fixed too.
        for second in (0, 1):
            t = time.gmtime(calendar.timegm(built) + second)
            stamp = bytes([t.tm_year - 1900, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, 0])
            target = bytes([fixed.tm_year - 1900, fixed.tm_mon, fixed.tm_mday, fixed.tm_hour, fixed.tm_min,
                            fixed.tm_sec, 0])  # fmt: skip
            data = bytearray(bytes(data).replace(stamp, target))
    return bytes(data)


def iso_volume_name(iso: bytes) -> str | None:
    """The volume name: Joliet's (UCS-2, case kept) if present, else the primary descriptor's."""
    primary = None
    for offset in range(16 * 2048, len(iso), 2048):
        if iso[offset + 1 : offset + 6] != b"CD001":
            return None if primary is None else primary
        kind = iso[offset]
        if kind == 255:
            break
        if kind == 1:
            primary = iso[offset + 40 : offset + 72].decode("ascii", "replace").strip()
        elif kind == 2 and iso[offset + 88 : offset + 90] == b"%/":
            return iso[offset + 40 : offset + 72].decode("utf-16-be", "replace").strip()
    return primary


def write_dmg(out: Path, payload: bytes, name: str = "disk image", volume: str | None = None) -> Path:
    """Wrap `payload` (a file system image) in a UDZO-style UDIF container.

    `volume` (the HFS+ volume name the real image has) goes into the property list under VOLUME_KEY: ISO 9660
    and Joliet cut volume names at 32 and 16 characters ("CUDAMacOSXInstaller" is 19).
    """
    if len(payload) % SECTOR:
        payload += b"\0" * (SECTOR - len(payload) % SECTOR)
    sectors = len(payload) // SECTOR
    data = bytearray()
    chunks = []
    for first in range(0, sectors, CHUNK_SECTORS):
        count = min(CHUNK_SECTORS, sectors - first)
        raw = payload[first * SECTOR : (first + count) * SECTOR]
        if raw.count(0) == len(raw):
            chunks.append(_CHUNK.pack(IGNORE, 0, first, count, len(data), 0))
            continue
        packed = zlib.compress(raw, 9)
        chunks.append(_CHUNK.pack(ZLIB, 0, first, count, len(data), len(packed)))
        data += packed
    chunks.append(_CHUNK.pack(END, 0, sectors, 0, len(data), 0))
    mish = _MISH.pack(b"mish", 1, 0, sectors, 0, 0x208, 2, b"\0" * 24, 2, 32, b"\0" * 128, len(chunks))
    mish += b"".join(chunks)
    document: dict[str, object] = {
        "resource-fork": {"blkx": [{"Attributes": "0x0050", "CFName": name, "Data": mish, "ID": "0", "Name": name}]}
    }
    if volume:
        document[VOLUME_KEY] = volume
    plist = plistlib.dumps(document)
    xml_offset = len(data)
    crc = zlib.crc32(bytes(data))
    checksum = struct.pack(">I", crc) + b"\0" * 124
    koly = _KOLY.pack(
        b"koly", 4, 512, 1, 0, 0, len(data), 0, 0, 1, 1,
        uuid.uuid5(uuid.NAMESPACE_URL, name).bytes, 2, 32, checksum,
        xml_offset, len(plist), b"\0" * 120, 2, 32, checksum, 1, sectors, b"\0" * 12,
    )  # fmt: skip
    out = Path(out)
    out.write_bytes(bytes(data) + plist + koly)
    return out


def read_dmg(path: Path) -> bytes:
    """The file system image inside a UDIF .dmg (or a bare ISO 9660 file, which hdiutil attaches too)."""
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(str(exc), kind="missing") from exc
    if len(blob) >= _KOLY.size and blob[-_KOLY.size : -_KOLY.size + 4] == b"koly":
        return _udif_payload(blob)
    if blob[16 * 2048 + 1 : 16 * 2048 + 6] == b"CD001":
        return blob
    raise ImageError("image not recognized")


def _udif_payload(blob: bytes) -> bytes:
    fields = _KOLY.unpack(blob[-_KOLY.size :])
    data_offset, xml_offset, xml_length = fields[5], fields[15], fields[16]
    try:
        plist = plistlib.loads(blob[xml_offset : xml_offset + xml_length])
        tables = plist["resource-fork"]["blkx"]
    except (plistlib.InvalidFileException, ValueError, KeyError, TypeError) as exc:
        raise ImageError("damaged UDIF property list") from exc
    out = bytearray()
    for table in tables:
        mish = bytes(table["Data"])
        header = _MISH.unpack(mish[: _MISH.size])
        base, count = header[2], header[11]
        for i in range(count):
            kind, _c, sector, sectors, offset, length = _CHUNK.unpack_from(mish, _MISH.size + i * _CHUNK.size)
            start = (base + sector) * SECTOR
            if len(out) < start:
                out += b"\0" * (start - len(out))
            if kind == END:
                break
            if kind == COMMENT:
                continue
            raw = blob[data_offset + offset : data_offset + offset + length]
            if kind == ZLIB:
                try:
                    chunk = zlib.decompress(raw)
                except zlib.error as exc:
                    raise ImageError("damaged compressed chunk") from exc
            elif kind == RAW:
                chunk = raw
            elif kind in (ZERO, IGNORE):
                chunk = b"\0" * (sectors * SECTOR)
            else:
                raise ImageError(f"unsupported chunk type {kind:#x} (bzip2/lzfse images are not supported)")
            out[start : start + len(chunk)] = chunk
    return bytes(out)


def build_dmg(out: Path, src: Path, volume: str, mtime: int) -> Path:
    """A .dmg holding the tree `src` as volume `volume` (what NVIDIA's dmgs hold, in ISO 9660; see above)."""
    return write_dmg(out, build_iso(src, volume[:16], mtime), name=f"{volume} (ISO9660 : 0)", volume=volume)


def dmg_volume_name(path: Path) -> str | None:
    """The volume name the lab recorded in a .dmg's property list, if any (else use iso_volume_name)."""
    blob = Path(path).read_bytes()
    if len(blob) < _KOLY.size or blob[-_KOLY.size : -_KOLY.size + 4] != b"koly":
        return None
    fields = _KOLY.unpack(blob[-_KOLY.size :])
    try:
        name = plistlib.loads(blob[fields[15] : fields[15] + fields[16]]).get(VOLUME_KEY)
    except (plistlib.InvalidFileException, ValueError, AttributeError):
        return None
    return str(name) if name else None


def extract_iso(iso: bytes, dest: Path) -> None:
    """Write the files of an ISO 9660 image under `dest` with bsdtar (Rock Ridge modes and symlinks kept)."""
    proc = subprocess.run([bsdtar(), "-xf", "-", "-C", str(dest)], input=iso, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ImageError(proc.stderr.decode(errors="replace").strip(), kind="no filesystem")
