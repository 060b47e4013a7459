"""macOS flat packages: the xar container, the gzip'd odc cpio payloads, PackageInfo, Distribution, and a BOM.

Sources for the layout imitated here:
- xar: the file format of the xar project (mackyle/xar, `xar/include/xar.h.in` and the wiki page "xarformat"):
  a 28-byte big-endian header (`xar!`, header size, version 1, compressed and uncompressed TOC length, checksum
  algorithm), a zlib-compressed XML table of contents, then the heap; heap offset 0 holds the checksum of the
  compressed TOC. libarchive reads and writes the same format (`bsdtar --format xar`); the tests check that bsdtar
  lists what this module writes.
- Flat packages: `pkgbuild(1)`, `productbuild(1)` and `pkgutil(1)` man pages, and public write-ups of the layout
  (Stephane Sudre's "Flat Package Format" notes, "Unpacking a pkg" by Jonathan Levin): a product archive holds
  `Distribution`, `Resources/` and one `<name>.pkg/` directory per component with `PackageInfo`, `Bom`, `Payload`
  (gzip-compressed cpio, odc format) and optional `Scripts` (same format, holding preinstall/postinstall).
- cpio odc ("070707", POSIX.1 `cpio` interchange format): the cpio(5) man page of libarchive.

Divergence: Apple's Bom is a binary `BOMStore` file. Here the Bom is a *text stand-in*, one `lsbom`-style line
per path, starting with the line BOM_MAGIC; `lsbom` in the lab reads it, and receipts use the same format. Checksums
in it are zlib's CRC-32, not POSIX cksum's CRC.

Pure Python on purpose: it runs inside the rehearsal sandbox with no host binaries, and its output is byte-for-byte
deterministic (fixed mtimes), which keeps the stand-ins' SHA-256 stable for the lab's lock file.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import io
import os
import stat
import struct
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# A fixed time for every archive member (2018-01-23, the week 17D47 shipped): deterministic stand-ins.
FIXED_MTIME = 1516665600

XAR_MAGIC = b"xar!"
_XAR_HEADER = struct.Struct(">4sHHQQI")  # magic, header size, version, toc compressed, toc uncompressed, cksum alg
_XAR_CKSUM_SHA1 = 1
BOM_MAGIC = "# egpu-setup rehearsal BOM stand-in v1 (not Apple's binary BOMStore); lsbom format"


class PackageError(Exception):
    """A file that is not a readable flat package (or payload); handlers turn it into the real tool's message."""


# ---------------------------------------------------------------------------------------------------------- xar


@dataclass
class XarMember:
    """One member of a xar archive: a directory (data None), a file, or a symlink (link set)."""

    path: str  # relative, '/'-separated
    data: bytes | None = None
    mode: int = 0o644
    link: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.data is None and self.link is None


def _compressible(path: str) -> bool:
    # Apple stores the already-compressed Payload/Scripts as-is and deflates the XML files (Distribution, PackageInfo).
    return PurePosixPath(path).name not in {"Payload", "Scripts"}


def write_xar(out: Path, members: Iterable[XarMember], mtime: int = FIXED_MTIME) -> Path:
    """Write a xar archive with a SHA-1 TOC checksum, like `xar -c` and `pkgutil --flatten` do."""
    heap = bytearray(b"\0" * 20)  # TOC checksum goes first (offset 0, size 20)
    ids = iter(range(1, 1 << 30))
    root = ET.Element("xar")
    toc = ET.SubElement(root, "toc")
    ck = ET.SubElement(toc, "checksum", style="sha1")
    ET.SubElement(ck, "offset").text = "0"
    ET.SubElement(ck, "size").text = "20"
    ET.SubElement(toc, "creation-time").text = _iso_time(mtime)
    dirs: dict[str, ET.Element] = {"": toc}

    def parent_of(path: str) -> ET.Element:
        parent = str(PurePosixPath(path).parent)
        parent = "" if parent == "." else parent
        if parent not in dirs:
            add(XarMember(parent, mode=0o755))
        return dirs[parent]

    def add(member: XarMember) -> None:
        node = ET.SubElement(parent_of(member.path), "file", id=str(next(ids)))
        if member.is_dir:
            dirs[member.path] = node
        if member.data is not None and member.link is None:
            raw = member.data
            stored = zlib.compress(raw, 9) if _compressible(member.path) else raw
            data = ET.SubElement(node, "data")
            ET.SubElement(data, "length").text = str(len(stored))
            ET.SubElement(data, "offset").text = str(len(heap))
            ET.SubElement(data, "size").text = str(len(raw))
            style = "application/x-gzip" if stored is not raw else "application/octet-stream"
            ET.SubElement(data, "encoding", style=style)
            ET.SubElement(data, "extracted-checksum", style="sha1").text = hashlib.sha1(raw).hexdigest()
            ET.SubElement(data, "archived-checksum", style="sha1").text = hashlib.sha1(stored).hexdigest()
            heap.extend(stored)
        for tag, value in (
            ("mode", f"{member.mode & 0o7777:04o}"),
            ("uid", "0"),
            ("gid", "0"),
            ("user", "root"),
            ("group", "wheel"),
            ("ctime", _iso_time(mtime)),
            ("mtime", _iso_time(mtime)),
            ("atime", _iso_time(mtime)),
        ):
            ET.SubElement(node, tag).text = value
        ET.SubElement(node, "name").text = PurePosixPath(member.path).name
        if member.link is not None:  # xar's form: <type>symlink</type><link type="file">target</link>
            ET.SubElement(node, "type").text = "symlink"
            ET.SubElement(node, "link", type="file").text = member.link
        else:
            ET.SubElement(node, "type").text = "directory" if member.is_dir else "file"

    for member in sorted(members, key=lambda m: m.path):
        if member.is_dir and member.path in dirs:
            continue
        add(member)
    toc_xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
    toc_z = zlib.compress(toc_xml, 9)
    heap[0:20] = hashlib.sha1(toc_z).digest()
    header = _XAR_HEADER.pack(XAR_MAGIC, _XAR_HEADER.size, 1, len(toc_z), len(toc_xml), _XAR_CKSUM_SHA1)
    out = Path(out)
    out.write_bytes(header + toc_z + bytes(heap))
    return out


def read_xar(path: Path) -> list[XarMember]:
    """Read every member of a xar archive (ours, Apple's, or libarchive's); PackageError if it is not one."""
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read {path}: {exc.strerror}") from exc
    if len(blob) < _XAR_HEADER.size or blob[:4] != XAR_MAGIC:
        raise PackageError(f"{path} is not a xar archive")
    _magic, hsize, _version, toc_len, _toc_raw_len, _alg = _XAR_HEADER.unpack_from(blob)
    try:
        toc = ET.fromstring(zlib.decompress(blob[hsize : hsize + toc_len]))
    except (zlib.error, ET.ParseError) as exc:
        raise PackageError(f"{path}: damaged xar table of contents") from exc
    heap = blob[hsize + toc_len :]
    _check_toc(toc, blob[hsize : hsize + toc_len], heap, path)
    members: list[XarMember] = []

    def walk(node: ET.Element, prefix: str) -> None:
        for f in node.findall("file"):
            name = f.findtext("name") or ""
            if not name or "/" in name or name in {".", ".."}:
                raise PackageError(f"{path}: unsafe member name {name!r}")
            rel = f"{prefix}{name}"
            kind = f.findtext("type") or "file"
            mode = int(f.findtext("mode") or "644", 8)
            if kind == "directory":
                members.append(XarMember(rel, mode=mode))
                walk(f, rel + "/")
            elif kind == "symlink":
                link = f.findtext("link")
                if link is None:
                    t = f.find("type")
                    link = t.get("link", "") if t is not None else ""
                members.append(XarMember(rel, data=b"", mode=mode, link=link))
            else:
                members.append(XarMember(rel, data=_xar_data(f.find("data"), heap, path), mode=mode))

    walk(toc.find("toc") if toc.find("toc") is not None else toc, "")
    return members


def _check_toc(toc: ET.Element, toc_z: bytes, heap: bytes, path: Path) -> None:
    """xar keeps the digest of the compressed TOC in the heap (toc/checksum offset and size); a mismatch is a
    damaged archive, which installer and pkgutil refuse (xar's format description)."""
    node = toc.find("toc/checksum") if toc.find("toc") is not None else toc.find("checksum")
    if node is None:
        return
    algo = (node.get("style") or "").lower()
    if algo not in ("sha1", "md5", "sha256"):
        return
    offset, size = int(node.findtext("offset") or 0), int(node.findtext("size") or 0)
    if heap[offset : offset + size] != hashlib.new(algo, toc_z).digest():
        raise PackageError(f"{path}: the table of contents does not match its checksum (damaged package)")


def _xar_data(data: ET.Element | None, heap: bytes, path: Path) -> bytes:
    if data is None:
        return b""
    offset, length = int(data.findtext("offset") or 0), int(data.findtext("length") or 0)
    stored = heap[offset : offset + length]
    if len(stored) != length:
        raise PackageError(f"{path}: truncated xar heap")
    check = data.find("archived-checksum")
    algo = (check.get("style") or "").lower() if check is not None else ""
    expected = (check.text or "").strip().lower() if check is not None else ""
    if algo in ("sha1", "md5", "sha256") and expected and hashlib.new(algo, stored).hexdigest() != expected:
        raise PackageError(f"{path}: a member's checksum does not match (damaged package)")
    enc = data.find("encoding")
    style = enc.get("style", "application/octet-stream") if enc is not None else "application/octet-stream"
    try:
        if style == "application/x-gzip":  # xar's name for zlib deflate
            return zlib.decompress(stored)
        if style == "application/x-bzip2":
            return bz2.decompress(stored)
    except (zlib.error, OSError, ValueError) as exc:
        raise PackageError(f"{path}: damaged member data") from exc
    if style != "application/octet-stream":
        raise PackageError(f"{path}: unsupported xar encoding {style}")
    return stored


def _iso_time(epoch: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# ------------------------------------------------------------------------------------------------------ cpio odc


@dataclass
class CpioEntry:
    """One cpio member; path like './Library/Extensions/X.kext' (Apple's payloads start with '.')."""

    path: str
    mode: int  # full st_mode, type bits included
    data: bytes = b""  # file contents, or the link target for a symlink

    @property
    def kind(self) -> str:
        if stat.S_ISDIR(self.mode):
            return "dir"
        if stat.S_ISLNK(self.mode):
            return "link"
        return "file"


def write_cpio_odc(entries: Iterable[CpioEntry], mtime: int = FIXED_MTIME) -> bytes:
    out = io.BytesIO()
    for ino, e in enumerate([*entries, CpioEntry("TRAILER!!!", 0)], start=1):
        name = e.path.encode() + b"\0"
        ino = 0 if e.path == "TRAILER!!!" else ino
        out.write(
            b"070707"
            + b"%06o%06o%06o%06o%06o%06o%06o%011o%06o%011o"
            % (0, ino, e.mode, 0, 0, 1, 0, mtime if ino else 0, len(name), len(e.data))
        )
        out.write(name)
        out.write(e.data)
    return out.getvalue()


def read_cpio(blob: bytes) -> list[CpioEntry]:
    """Parse an odc ('070707') or newc ('070701') cpio archive."""
    entries: list[CpioEntry] = []
    pos = 0
    while pos < len(blob):
        magic = blob[pos : pos + 6]
        if magic == b"070707":
            try:
                mode = int(blob[pos + 18 : pos + 24], 8)
                namesize = int(blob[pos + 59 : pos + 65], 8)
                filesize = int(blob[pos + 65 : pos + 76], 8)
            except ValueError as exc:
                raise PackageError("damaged cpio header") from exc
            name_at = pos + 76
            data_at = name_at + namesize
            end = data_at + filesize
        elif magic in (b"070701", b"070702"):
            fields = [int(blob[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
            mode, filesize, namesize = fields[1], fields[6], fields[11]
            name_at = pos + 110
            data_at = (name_at + namesize + 3) & ~3
            end = (data_at + filesize + 3) & ~3
        else:
            raise PackageError("not a cpio archive (odc or newc)")
        name = blob[name_at : name_at + namesize].rstrip(b"\0").decode("utf-8", "surrogateescape")
        if name == "TRAILER!!!":
            break
        entries.append(CpioEntry(name, mode, bytes(blob[data_at : data_at + filesize])))
        pos = end
    return entries


def pack_tree(root: Path) -> list[CpioEntry]:
    """The entries of a directory tree, sorted, named './...' as Apple's pkgbuild names them."""
    root = Path(root)
    entries = [CpioEntry(".", stat.S_IFDIR | 0o755)]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = "./" + full.relative_to(root).as_posix()
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                entries.append(CpioEntry(rel, stat.S_IFLNK | 0o755, os.readlink(full).encode()))
            elif stat.S_ISDIR(st.st_mode):
                entries.append(CpioEntry(rel, stat.S_IFDIR | (st.st_mode & 0o7777)))
            else:
                entries.append(CpioEntry(rel, stat.S_IFREG | (st.st_mode & 0o7777), full.read_bytes()))
    return entries


def gzip_payload(entries: Iterable[CpioEntry]) -> bytes:
    """A Payload/Scripts blob: gzip of an odc cpio archive (mtime 0 in the gzip header: deterministic)."""
    return gzip.compress(write_cpio_odc(entries), compresslevel=6, mtime=0)


def read_payload(blob: bytes) -> list[CpioEntry]:
    """Entries of a Payload/Scripts blob (gzip'd or plain cpio)."""
    if blob[:2] == b"\x1f\x8b":
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError) as exc:
            raise PackageError("damaged gzip payload") from exc
    return read_cpio(blob)


def safe_relpath(path: str) -> PurePosixPath:
    """'./a/b' -> 'a/b'; refuse absolute paths and '..' (a payload must stay under its install location)."""
    rel = PurePosixPath(path.removeprefix("./").lstrip("/") if path not in {".", "./"} else "")
    if any(part == ".." for part in rel.parts):
        raise PackageError(f"payload path escapes its install location: {path}")
    return rel


def extract_entries(entries: Iterable[CpioEntry], dest: Path) -> list[str]:
    """Write cpio entries under `dest` (merging into existing directories); returns the './...' paths written."""
    written = []
    for e in entries:
        rel = safe_relpath(e.path)
        target = Path(dest) / rel
        if e.kind == "dir":
            if target.is_symlink():
                pass  # keep an existing link to a directory (e.g. /usr/local/cuda), as cpio does
            elif target.is_dir():
                mode = e.mode & 0o7777 or 0o755
                if stat.S_IMODE(target.stat().st_mode) != mode:
                    try:
                        target.chmod(mode)
                    except OSError as exc:
                        # A SIP-protected directory the payload passes through (/usr for /usr/local/bin) stays as
                        # it is: installd may not change it, and the install goes on into the writable part.
                        if exc.errno not in (errno.EROFS, errno.EPERM):
                            raise
            else:
                target.mkdir(parents=True, exist_ok=True)
                target.chmod(e.mode & 0o7777 or 0o755)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.is_file():
                target.unlink()
            if e.kind == "link":
                os.symlink(e.data.decode(), target)
            else:
                target.write_bytes(e.data)
                target.chmod(e.mode & 0o7777)
        written.append("." if not rel.parts else "./" + rel.as_posix())
    return written


# ---------------------------------------------------------------------------------------------------------- BOM


def make_bom(entries: Iterable[CpioEntry]) -> bytes:
    """The Bom stand-in: lsbom's default columns (path, octal mode, uid/gid, size, checksum, link target)."""
    lines = [BOM_MAGIC]
    for e in entries:
        path = "." if e.path in {".", "./"} else "./" + safe_relpath(e.path).as_posix()
        if e.kind == "dir":
            lines.append(f"{path}\t{e.mode:o}\t0/0")
        elif e.kind == "link":
            lines.append(f"{path}\t{e.mode:o}\t0/0\t{len(e.data)}\t{zlib.crc32(e.data)}\t{e.data.decode()}")
        else:
            lines.append(f"{path}\t{e.mode:o}\t0/0\t{len(e.data)}\t{zlib.crc32(e.data)}")
    return ("\n".join(lines) + "\n").encode()


def read_bom(blob: bytes) -> list[str]:
    """The lsbom lines of a Bom stand-in; PackageError for anything else (Apple's binary BOMs included)."""
    text = blob.decode("utf-8", "replace")
    if not text.startswith(BOM_MAGIC):
        if blob.startswith(b"BOMStore"):
            raise PackageError("binary BOMStore files are not supported by the rehearsal lab")
        raise PackageError("not a Bom file")
    return [line for line in text.splitlines()[1:] if line]


def bom_paths(blob: bytes) -> list[str]:
    return [line.split("\t", 1)[0] for line in read_bom(blob)]


# ------------------------------------------------------------------------------------------ packages (the model)


@dataclass
class Component:
    """One component package: its PackageInfo fields, payload entries and scripts."""

    identifier: str
    version: str
    entries: list[CpioEntry]
    install_location: str = "/"
    scripts: dict[str, bytes] = field(default_factory=dict)  # name (preinstall/postinstall) -> script text
    dirname: str = ""  # '<name>.pkg' inside a product archive

    def package_info(self) -> bytes:
        files = [e for e in self.entries if e.kind != "dir"]
        kbytes = sum(len(e.data) for e in files) // 1024 + 1
        info = ET.Element(
            "pkg-info",
            {
                "format-version": "2",
                "identifier": self.identifier,
                "version": self.version,
                "install-location": self.install_location,
                "auth": "root",
            },
        )
        ET.SubElement(info, "payload", installKBytes=str(kbytes), numberOfFiles=str(len(self.entries)))
        scripts = ET.SubElement(info, "scripts")
        for name in sorted(self.scripts):
            ET.SubElement(scripts, name, file=f"./{name}")
        ET.indent(info)
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(info, encoding="utf-8") + b"\n"

    def members(self, prefix: str) -> list[XarMember]:
        out = [
            XarMember(prefix + "PackageInfo", self.package_info()),
            XarMember(prefix + "Bom", make_bom(self.entries)),
            XarMember(prefix + "Payload", gzip_payload(self.entries)),
        ]
        if self.scripts:
            scripts = [CpioEntry(".", stat.S_IFDIR | 0o755)]
            scripts += [CpioEntry(f"./{n}", stat.S_IFREG | 0o755, s) for n, s in sorted(self.scripts.items())]
            out.append(XarMember(prefix + "Scripts", gzip_payload(scripts)))
        return out


@dataclass
class PackageInfo:
    """PackageInfo as read back from a package."""

    identifier: str
    version: str
    install_location: str
    scripts: dict[str, str]  # preinstall/postinstall -> file name inside Scripts

    @classmethod
    def parse(cls, blob: bytes, where: str) -> PackageInfo:
        try:
            root = ET.fromstring(blob)
        except ET.ParseError as exc:
            raise PackageError(f"{where}: PackageInfo is not valid XML") from exc
        ident = root.get("identifier")
        if root.tag != "pkg-info" or not ident:
            raise PackageError(f"{where}: PackageInfo has no identifier")
        scripts = {}
        node = root.find("scripts")
        for child in node if node is not None else []:
            scripts[child.tag] = (child.get("file") or child.tag).removeprefix("./")
        return cls(ident, root.get("version", "0"), root.get("install-location", "/"), scripts)


@dataclass
class ReadComponent:
    """A component package as found in a flat package."""

    dirname: str  # '' for a bare component package
    info: PackageInfo
    payload: bytes
    bom: bytes
    scripts_blob: bytes | None

    def entries(self) -> list[CpioEntry]:
        return read_payload(self.payload)

    def scripts(self) -> dict[str, bytes]:
        if self.scripts_blob is None:
            return {}
        found = {safe_relpath(e.path).as_posix(): e.data for e in read_payload(self.scripts_blob) if e.kind == "file"}
        return {kind: found[name] for kind, name in self.info.scripts.items() if name in found}


@dataclass
class FlatPackage:
    """A flat package as read: a product archive (distribution set) or one component package."""

    path: Path
    distribution: bytes | None
    components: list[ReadComponent]
    members: list[XarMember]

    @property
    def is_product(self) -> bool:
        return self.distribution is not None


def read_package(path: Path) -> FlatPackage:
    members = read_xar(path)
    return package_from_members(Path(path), members)


def package_from_members(path: Path, members: list[XarMember]) -> FlatPackage:
    files = {m.path: m.data for m in members if m.data is not None and m.link is None}
    distribution = files.get("Distribution")
    prefixes = sorted({p.rsplit("/", 1)[0] + "/" for p in files if p.endswith("/PackageInfo")})
    if "PackageInfo" in files:
        prefixes = [""]
    if not prefixes:
        raise PackageError(f"{path}: no PackageInfo in the package")
    components = []
    for prefix in prefixes:
        if f"{prefix}Payload" not in files:
            raise PackageError(f"{path}: {prefix or 'package'} has no Payload")
        components.append(
            ReadComponent(
                prefix.rstrip("/"),
                PackageInfo.parse(files[f"{prefix}PackageInfo"] or b"", f"{path}:{prefix}"),
                files[f"{prefix}Payload"] or b"",
                files.get(f"{prefix}Bom") or b"",
                files.get(f"{prefix}Scripts"),
            )
        )
    return FlatPackage(path, distribution, components, members)


def write_product_pkg(out: Path, distribution: bytes, components: list[Component]) -> Path:
    """A product archive, as `productbuild --distribution D --package-path P out.pkg` writes one."""
    members = [XarMember("Distribution", distribution), XarMember("Resources", None, 0o755)]
    for c in components:
        members += c.members(f"{c.dirname or c.identifier + '.pkg'}/")
    return write_xar(out, members)


def distribution_xml(
    title: str,
    components: list[Component],
    script: str | None = None,
    installation_check: str | None = None,
    restart: bool = False,
    volume_check: str | None = None,
) -> bytes:
    """A Distribution file in productbuild's shape (Apple's "Distribution XML Reference").

    `installation-check` sits on its own line: scripts in the wild delete it with `sed '/installation-check/d'`.
    `volume_check` is a `<volume-check>...</volume-check>` element, written as given.
    """
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<installer-gui-script minSpecVersion="1">',
        f"    <title>{_xml_escape(title)}</title>",
        '    <options customize="never" require-scripts="false" hostArchitectures="x86_64"/>',
    ]
    if installation_check:
        lines.append(f'    <installation-check script="{installation_check}"/>')
    if volume_check:
        lines += ["    " + line for line in volume_check.strip("\n").splitlines()]
    if script:
        lines += ["    <script><![CDATA[", script.rstrip("\n"), "    ]]></script>"]
    lines.append('    <choices-outline><line choice="default">')
    lines += [f'        <line choice="{c.identifier}"/>' for c in components]
    lines += ["    </line></choices-outline>", '    <choice id="default"/>']
    conclusion = ' onConclusion="RequireRestart"' if restart else ""
    for c in components:
        lines.append(f'    <choice id="{c.identifier}" visible="false"><pkg-ref id="{c.identifier}"/></choice>')
        lines.append(
            f'    <pkg-ref id="{c.identifier}" version="{c.version}"{conclusion}>'
            f"#{c.dirname or c.identifier + '.pkg'}</pkg-ref>"
        )
    lines.append("</installer-gui-script>")
    return ("\n".join(lines) + "\n").encode()


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------------------ expanded packages (pkgutil)


def expand(pkg: Path, dest: Path, full: bool = False) -> None:
    """`pkgutil --expand` (members as files) or `--expand-full` (Payload/Scripts unpacked into directories)."""
    members = read_xar(pkg)
    dest.mkdir(parents=True)
    for m in members:
        rel = safe_relpath(m.path)
        target = dest / rel
        if m.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if m.link is not None:
            os.symlink(m.link, target)
        elif full and rel.name in {"Payload", "Scripts"}:
            target.mkdir()
            extract_entries(read_payload(m.data or b""), target)
        else:
            target.write_bytes(m.data or b"")
            target.chmod(m.mode & 0o7777 or 0o644)


def flatten(src: Path, out: Path, full: bool = False) -> Path:
    """`pkgutil --flatten` / `--flatten-full`: an expanded directory back into a xar flat package.

    With `full`, a Payload or Scripts *directory* is packed into gzip'd odc cpio and the Bom is regenerated from it.
    """
    members: list[XarMember] = []
    for member in _walk_members(src):
        members.append(member)
    if full:
        members = _pack_expanded(src, members)
    package_from_members(out, members)  # refuse a directory that is not a package, before writing anything
    return write_xar(out, members)


def _walk_members(src: Path) -> Iterator[XarMember]:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(src).as_posix()
            if full.is_symlink():
                yield XarMember(rel, b"", 0o755, link=os.readlink(full))
            elif full.is_dir():
                yield XarMember(rel, None, full.stat().st_mode & 0o7777)
            else:
                yield XarMember(rel, full.read_bytes(), full.stat().st_mode & 0o7777)


def _pack_expanded(src: Path, members: list[XarMember]) -> list[XarMember]:
    packed_dirs = [
        m.path
        for m in members
        if m.is_dir and PurePosixPath(m.path).name in {"Payload", "Scripts"} and (src / m.path).is_dir()
    ]
    if not packed_dirs:
        return members
    kept = [m for m in members if not any(m.path == d or m.path.startswith(d + "/") for d in packed_dirs)]
    for d in packed_dirs:
        entries = pack_tree(src / d)
        kept.append(XarMember(d, gzip_payload(entries), 0o644))
        if PurePosixPath(d).name == "Payload":
            bom = str(PurePosixPath(d).with_name("Bom"))
            kept = [m for m in kept if m.path != bom] + [XarMember(bom, make_bom(entries), 0o644)]
    return kept
