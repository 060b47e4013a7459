"""Resolve library references the way dyld does on macOS 10.13 High Sierra, inside a root directory.

The rules, from dyld's sources of that era (apple-oss-distributions/dyld, dyld-519/dyld-551: src/dyld.cpp
`loadPhase0`-`loadPhase5`, src/ImageLoaderMachO.cpp `getRPaths`, src/ImageLoader.cpp `recursiveLoadLibraries`)
and dyld(1):

- `@executable_path/` is replaced by the directory of the main executable, then retried with its realpath.
- `@loader_path/` is replaced by the directory of the image whose load command it is, then with its realpath.
- `@rpath/` is replaced by each LC_RPATH of the loading image, then of the image that recursed into it, and so
  on up to the main executable (the `RPathChain`, built depth first: an image loads all its libraries, then
  recurses into each in turn); the first that names a usable file wins. An LC_RPATH that starts
  with `@loader_path` or `@executable_path` is expanded against the realpath of its own image or of the main
  executable. An `@rpath/` name is never opened relative to the current directory.
- Absolute names are opened as they are.
- When all of that fails, the leaf name is looked up in the DYLD_FALLBACK_LIBRARY_PATH, by default
  `$HOME/lib:/usr/local/lib:/usr/lib` on 10.13 (this model leaves out `$HOME/lib`: it differs per user).
- A found file that is not a dylib of the right architecture is skipped and the search goes on
  ("no suitable image found. Did find: ...").
- A library found whose LC_ID_DYLIB compatibility version is lower than the one the loading image recorded is
  refused, and the search does not go on ("Incompatible library version: X requires version A or later, but Y
  provides version B": ImageLoader::recursiveLoadLibraries; 10.13 has no 0xFFFFFFFF wildcard yet).
- A missing (or incompatible) LC_LOAD_WEAK_DYLIB is not an error: dyld carries on without it.
- An LC_LAZY_LOAD_DYLIB is not loaded with its image: the first call dlopens it (no version check), and calls
  into a missing one return 0. It is resolved here as dlopen would find it, and never counts as failing.

All paths are paths on the Mac; `Root` maps them into a directory here (a rehearsal Mac's tree, or `/` on a live
Mac) and follows symlinks inside it, so an absolute symlink in a copied tree stays in the tree. Libraries under
/usr/lib and /System/Library that the root does not hold count as resolved by the dyld shared cache: a copied
tree rarely carries the OS, and on a live Mac they are present anyway. Runs on the target: stdlib + macholib.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from macholib import mach_o

from egpu_setup.macho.reader import OPTIONAL_KINDS, DylibRef, MachOError, MachOFile, Slice, read_macho, sniff

SYSTEM_PREFIXES = ("/usr/lib/", "/System/Library/")
_OPTIONAL_NOTES = {
    "weak": "weak: dyld carries on without it",
    "lazy": "lazy: loaded at its first call, which returns 0 while the library is missing",
}
FALLBACK_LIBRARY_PATHS = ("/usr/local/lib", "/usr/lib")
_MAX_SYMLINKS = 32  # MAXSYMLINKS on macOS


@dataclass(frozen=True)
class Resolution:
    """Where dyld finds one referenced library, or why it does not."""

    name: str
    kind: str  # load, weak, reexport, lazy, upward
    status: str  # resolved | system | missing | incompatible | unknown
    path: str | None = None  # the Mac path dyld would open
    via: str = ""  # how: "rpath /usr/local/cuda/lib", "@loader_path", "absolute", "fallback /usr/lib", ...
    tried: tuple[str, ...] = ()
    note: str = ""

    @property
    def required(self) -> bool:
        return self.kind not in OPTIONAL_KINDS

    @property
    def failing(self) -> bool:
        """What makes dyld abort: a required library it cannot find or refuses for its version."""
        return self.status in ("missing", "incompatible") and self.required

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "path": self.path,
            "via": self.via,
            "tried": list(self.tried),
            "note": self.note,
        }


@dataclass(frozen=True)
class RPathLink:
    """One image's expanded LC_RPATHs in the loading chain (innermost image first)."""

    image: str
    rpaths: tuple[str, ...]


class Root:
    """The file system of one Mac as seen from here; caches what it reads.

    `overlay` lets a plan be verified before it is written: Mac path -> the MachOFile as it would be.
    """

    def __init__(self, root: Path | str = "/") -> None:
        self.root = Path(os.path.abspath(root))
        self.overlay: dict[str, MachOFile] = {}
        self._images: dict[str, MachOFile | MachOError] = {}

    # -- paths -------------------------------------------------------------------------------------------------
    def host(self, mac_path: str) -> Path:
        return self.root / mac_path.lstrip("/")

    def to_mac(self, host_path: Path | str) -> str:
        """The Mac path of a path here; ValueError when it lies outside the root."""
        absolute = Path(os.path.abspath(host_path))
        rel = absolute.relative_to(self.root)  # raises ValueError outside
        return "/" + rel.as_posix() if rel.as_posix() != "." else "/"

    def realpath(self, mac_path: str) -> str | None:
        """Resolve symlinks as the Mac would, without leaving the root; None when the path does not exist."""
        return self.resolve(mac_path)[0]

    def resolve(self, mac_path: str) -> tuple[str | None, int]:
        """realpath, and when it fails why (an errno): ELOOP for a symbolic link loop (more links than the Mac
        follows), else the lstat error of the first part missing (ENOENT, EACCES, ENOTDIR)."""
        parts = [p for p in mac_path.split("/") if p]
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join([*resolved, part])
            try:
                st = os.lstat(self.host(candidate))
            except OSError as exc:
                return None, exc.errno or errno.ENOENT
            if stat.S_ISLNK(st.st_mode):
                hops += 1
                if hops > _MAX_SYMLINKS:
                    return None, errno.ELOOP
                target = os.readlink(self.host(candidate))
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in target.split("/") if p] + parts
                continue
            resolved.append(part)
        return "/" + "/".join(resolved), 0

    # -- images ------------------------------------------------------------------------------------------------
    def image(self, real_mac_path: str) -> MachOFile | MachOError:
        """The parsed file at a resolved Mac path (the overlay wins), or the error that reading it gave."""
        if real_mac_path in self.overlay:
            return self.overlay[real_mac_path]
        if real_mac_path not in self._images:
            try:
                self._images[real_mac_path] = read_macho(self.host(real_mac_path))
            except MachOError as exc:
                self._images[real_mac_path] = exc
        return self._images[real_mac_path]

    def compatibility_version(self, real_mac_path: str, cputype: int) -> int | None:
        """The LC_ID_DYLIB compatibility version of a library that `usable_dylib` accepted."""
        image = self.image(real_mac_path)
        sl = slice_for(image, cputype) if isinstance(image, MachOFile) else None
        return sl.id_compatibility_version if sl is not None else None

    def forget(self, real_mac_path: str) -> None:
        """Drop the cached parse after the file was rewritten."""
        self._images.pop(real_mac_path, None)

    def usable_dylib(self, mac_path: str, cputype: int) -> tuple[str | None, str]:
        """(real Mac path, "") when dyld could load this file as a dylib for `cputype`, else (None, why not)."""
        real = self.realpath(mac_path)
        if real is None:
            return None, "no such file"
        host = self.host(real)
        if not host.is_file():
            return None, "not a file"
        if real not in self.overlay and sniff(host) is None:
            return None, "not a Mach-O file"
        image = self.image(real)
        if isinstance(image, MachOError):
            return None, "malformed Mach-O file"
        sl = slice_for(image, cputype)
        if sl is None:
            return None, f"mach-o, but wrong architecture ({', '.join(image.archs)})"
        if sl.filetype != mach_o.MH_DYLIB:
            return None, "not a dylib"
        return real, ""


def version_text(packed: int) -> str:
    """A Mach-O version (xxxx.yy.zz packed in 16.8.8 bits) as otool and dyld print it."""
    return f"{packed >> 16}.{(packed >> 8) & 0xFF}.{packed & 0xFF}"


def slice_for(image: MachOFile, cputype: int) -> Slice | None:
    return next((s for s in image.slices if s.cputype == cputype), None)


def expand_rpaths(image_real: str, sl: Slice, executable_real: str | None) -> tuple[tuple[str, ...], list[str]]:
    """This image's LC_RPATHs as dyld's getRPaths expands them; plus notes on those it cannot use."""
    out: list[str] = []
    notes: list[str] = []
    for rpath in sl.rpaths:
        for token, base in (("@loader_path", image_real), ("@executable_path", executable_real)):
            if rpath == token or rpath.startswith(token + "/"):
                if base is None:
                    notes.append(f"LC_RPATH {rpath} depends on the main executable (pass --executable)")
                    break
                out.append(posixpath.normpath(posixpath.dirname(base) + rpath[len(token) :]))
                break
        else:
            if rpath.startswith("/"):
                out.append(rpath.rstrip("/") or "/")
            else:
                notes.append(f"LC_RPATH {rpath} is relative to the current directory; not followed")
    return tuple(out), notes


def resolve(
    root: Root,
    ref: DylibRef,
    loader: str,
    cputype: int,
    chain: tuple[RPathLink, ...],
    executable: str | None,
    fallback: tuple[str, ...] = FALLBACK_LIBRARY_PATHS,
) -> Resolution:
    """Resolve one reference of the image at Mac path `loader` (as loaded) with the rpath chain of its loaders."""
    name = ref.name
    tried: list[str] = []

    def attempt(candidate: str, via: str) -> Resolution | None:
        real, why = root.usable_dylib(candidate, cputype)
        if real is None:
            tried.append(f"{candidate}: {why}")
            return None
        provided = root.compatibility_version(real, cputype) if ref.kind != "lazy" else None
        if provided is not None and provided < ref.compatibility_version:
            note = (
                f"Incompatible library version: {posixpath.basename(loader)} requires version "
                f"{version_text(ref.compatibility_version)} or later, but {posixpath.basename(candidate)} provides "
                f"version {version_text(provided)}"
            )
            if not ref.required:
                note += "; " + _OPTIONAL_NOTES[ref.kind]
            return Resolution(name, ref.kind, "incompatible", candidate, via, tuple(tried), note)
        return Resolution(name, ref.kind, "resolved", candidate, via, tuple(tried))

    def at_prefix(token: str, base: str) -> Resolution | None:
        rest = name[len(token) :]
        found = attempt(posixpath.dirname(base) + rest, token)
        real_base = root.realpath(base)
        if found is None and real_base is not None and real_base != base:
            found = attempt(posixpath.dirname(real_base) + rest, f"{token} (realpath)")
        return found

    found: Resolution | None = None
    if name.startswith("@executable_path/"):
        if executable is None:
            return Resolution(
                name, ref.kind, "unknown", note="depends on the main executable; pass --executable to check it"
            )
        found = at_prefix("@executable_path", executable)
    elif name.startswith("@loader_path/"):
        found = at_prefix("@loader_path", loader)
    elif name.startswith("@rpath/"):
        trailing = name[len("@rpath/") :]
        for link in chain:
            for rpath in link.rpaths:
                found = attempt(posixpath.join(rpath, trailing), f"rpath {rpath}")
                if found:
                    break
            if found:
                break
        if not found and not any(link.rpaths for link in chain):
            tried.append("no LC_RPATH in the image or its loaders")
    elif name.startswith("/"):
        found = attempt(name, "absolute")
        if found is None and name.startswith(SYSTEM_PREFIXES) and root.realpath(name) is None:
            return Resolution(name, ref.kind, "system", name, "dyld shared cache (not in the root)", tuple(tried))
    else:
        tried.append(f"{name}: relative to the current directory, which dyld uses but cannot be known here")
    if found is None:
        leaf = posixpath.basename(name)
        for directory in fallback:
            found = attempt(posixpath.join(directory, leaf), f"fallback {directory}")
            if found:
                break
    if found is not None:
        return found
    note = _OPTIONAL_NOTES.get(ref.kind, "")
    return Resolution(name, ref.kind, "missing", tried=tuple(tried), note=note)


@dataclass(frozen=True)
class ImageCheck:
    """The references of one slice of one image, direct and (for images it loads) transitive."""

    image: str  # Mac path of the image as named
    arch: str
    direct: tuple[Resolution, ...]
    transitive: tuple[tuple[str, Resolution], ...]  # (loading image, resolution) beyond the first level
    notes: tuple[str, ...]

    @property
    def failing(self) -> list[Resolution]:
        return [r for r in self.direct if r.failing]

    @property
    def failing_transitive(self) -> list[tuple[str, Resolution]]:
        return [(img, r) for img, r in self.transitive if r.failing]

    @property
    def ok(self) -> bool:
        return not self.failing and not self.failing_transitive


def check_slice(
    root: Root,
    image: str,
    sl: Slice,
    executable: str | None = None,
    fallback: tuple[str, ...] = FALLBACK_LIBRARY_PATHS,
) -> ImageCheck:
    """Resolve every reference of `sl` (of the image at Mac path `image`) and of the libraries it loads.

    The image is taken to be loaded by the main executable directly (its loaders are not known), so the chain
    is its own LC_RPATHs, then the executable's. Libraries under /usr/lib and /System/Library are not entered.
    """
    real = root.realpath(image) or image
    if sl.filetype == mach_o.MH_EXECUTE:
        executable = image  # an executable is its own main executable
    exe_real = root.realpath(executable) if executable else None
    own, notes = expand_rpaths(real, sl, exe_real)
    chain: tuple[RPathLink, ...] = (RPathLink(image, own),)
    if executable and exe_real and exe_real != real:
        exe_image = root.image(exe_real)
        exe_slice = slice_for(exe_image, sl.cputype) if isinstance(exe_image, MachOFile) else None
        if exe_slice is not None:
            chain += (RPathLink(executable, expand_rpaths(exe_real, exe_slice, exe_real)[0]),)
        else:
            notes.append(f"the executable {executable} is not a usable Mach-O file for {sl.arch}")
    direct = tuple(resolve(root, ref, image, sl.cputype, chain, executable, fallback) for ref in sl.deps)

    # dyld's recursiveLoadLibraries: an image loads all its libraries, then recurses into each in turn, depth
    # first; a library's own references are resolved with the chain of the first image that recurses into it
    # (each image is entered once: its state is set before its libraries are loaded, which also breaks cycles).
    transitive: list[tuple[str, Resolution]] = []
    entered = {real}

    def recurse(loaded: tuple[Resolution, ...], loader_chain: tuple[RPathLink, ...]) -> None:
        for res in loaded:
            if res.status != "resolved" or res.path is None:
                continue
            dep_real = root.realpath(res.path)
            if dep_real is None or dep_real in entered or dep_real.startswith(SYSTEM_PREFIXES):
                continue
            entered.add(dep_real)
            dep_image = root.image(dep_real)
            dep_slice = slice_for(dep_image, sl.cputype) if isinstance(dep_image, MachOFile) else None
            if dep_slice is None:
                continue
            dep_chain = (RPathLink(res.path, expand_rpaths(dep_real, dep_slice, exe_real)[0]), *loader_chain)
            subs = tuple(
                resolve(root, ref, res.path, sl.cputype, dep_chain, executable, fallback) for ref in dep_slice.deps
            )
            transitive.extend((res.path, sub) for sub in subs)
            recurse(subs, dep_chain)

    recurse(direct, chain)
    return ImageCheck(image, sl.arch, direct, tuple(transitive), tuple(notes))
