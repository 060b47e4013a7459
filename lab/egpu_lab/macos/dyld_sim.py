"""dlopen() on a rehearsal Mac: whether a Mach-O library would load, with dyld's error text when not.

The lab's own model of dyld (dyld-519/551, macOS 10.13), written apart from the product's resolver
(egpu_setup.macho.dyld) and reading Mach-O with macholib, so that a resolver bug in the product cannot pass the
rehearsal by grading itself. The rules (dyld(1) and dyld's ImageLoader::recursiveLoadLibraries):

- an image loads all its libraries in load-command order, then recurses into each (depth first), so the first
  failure dyld reports is the first missing library of the first image in that order;
- `@rpath/` tries the LC_RPATHs of the image whose load command it is, then of the image that loaded it, and so on
  up the chain; an LC_RPATH may itself start with `@loader_path/` (its own image's directory) or
  `@executable_path/`; `@loader_path/` is the directory of the image whose load command it is; `@executable_path/`
  the main executable's (none for a dlopen from this model's caller: such names do not resolve); absolute names
  are opened as they are; then the leaf name in DYLD_FALLBACK_LIBRARY_PATH (default /usr/local/lib:/usr/lib);
  DYLD_LIBRARY_PATH's directories, when dyld sees them, are tried first for the leaf name;
- a found file that is no x86_64 dylib is passed over and the search goes on; a library whose LC_ID_DYLIB
  compatibility version is lower than the one its loader recorded is refused (the search stops there);
- a missing or refused LC_LOAD_WEAK_DYLIB is no error, and an LC_LAZY_LOAD_DYLIB is not loaded with its image;
- a load command naming /usr/lib/... or /System/Library/... that a Mac tree of the lab does not hold counts as
  found: such OS libraries are in dyld's shared cache on a Mac, and the lab's trees carry none.

The error texts are dyld's as 10.13 reports them through dlopen(3) (and so Python's ctypes/OSError), held to these
recorded transcripts (tests/rehearsal/test_dyld_sim.py compares them):

    OSError: dlopen(//anaconda/lib/python3.5/site-packages/mxnet-0.7.0-py3.5.egg/mxnet/libmxnet.so, 6): Library not
    loaded: /usr/local/lib/libHalf.12.dylib
      Referenced from: /usr/local/opt/openexr/lib/libIlmImf-2_2.22.dylib
      Reason: image not found
                                        (apache/mxnet#2754: a library of a library, named with its loader's path)

    Library not loaded: @executable_path/../Frameworks/libfftw3f.3.dylib
      Referenced from: /Applications/welle.io 20220107.app/Contents/MacOS/welle-io
      Reason: Incompatible library version: welle-io requires version 10.0.0 or later, but libfftw3f.3.dylib
      provides version 9.0.0                (AlbrechtL/welle.io#703, on High Sierra: the leaf names of both images)

    dyld: Library not loaded: @rpath/libssh2.1.dylib
      Referenced from: /Users/name/anaconda2/bin/aria2c
      Reason: Incompatible library version: aria2c requires version 2.0.0 or later, but libssh2.1.dylib provides
      version 1.0.0                                                                         (aria2/aria2#1096)

DYLD_LIBRARY_PATH is honoured only where dyld would still see it: System Integrity Protection strips DYLD_*
variables whenever a protected binary (/bin/sh, /usr/bin/env, ...) is started (Apple's "Runtime Protections"
documentation of SIP), and scripts, Ansible and `make` always start one. So with SIP's filesystem protections on,
the lab treats them as stripped. Divergence: a process started directly by an unprotected parent would keep them.

No EXECUTABLES: macOS has no dyld command; the MXNet stand-in's Python package calls `dlopen`.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from egpu_lab.machine import Machine

EXECUTABLES: dict[str, str] = {}
X86_64 = 0x01000007
RTLD_NOW_GLOBAL = 6  # what Python's ctypes passes (RTLD_NOW | RTLD_GLOBAL on macOS): printed by dlopen errors
FALLBACK_DIRS = ("/usr/local/lib", "/usr/lib")
SHARED_CACHE_PREFIXES = ("/usr/lib/", "/System/Library/")
MAX_SYMLINKS = 32


class LoadError(Exception):
    """One library dyld would not load: the name as recorded, the loader's path, and dyld's reason."""

    def __init__(self, name: str, loader: str, reason: str) -> None:
        super().__init__(f"Library not loaded: {name}\n  Referenced from: {loader}\n  Reason: {reason}")


@dataclass(frozen=True)
class Dependency:
    name: str
    compatibility: int  # the compatibility version the loader was linked against
    weak: bool
    lazy: bool


@dataclass
class Image:
    """What dyld reads of one x86_64 Mach-O slice."""

    path: str  # the Mac path it was found at (what dyld prints)
    filetype: int
    compatibility: int  # LC_ID_DYLIB's; 0 for an image without one
    dependencies: list[Dependency] = field(default_factory=list)
    rpaths: list[str] = field(default_factory=list)


def version_text(packed: int) -> str:
    """A packed Mach-O version (16.8.8 bits) as dyld prints it."""
    return f"{packed >> 16}.{(packed >> 8) & 0xFF}.{packed & 0xFF}"


def _cstring(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def read_image(host_path: Path, mac_path: str) -> Image | str:
    """The x86_64 slice of a Mach-O file with macholib, or why dyld would pass it over."""
    from macholib import mach_o
    from macholib.MachO import MachO

    try:
        macho = MachO(str(host_path))
    except Exception as exc:  # macholib raises ValueError, struct.error, ... on what is no Mach-O
        return f"not a mach-o file ({exc.__class__.__name__})"
    header = next((h for h in macho.headers if h.header.cputype == X86_64), None)
    if header is None:
        return "mach-o, but wrong architecture"
    image = Image(mac_path, header.header.filetype, 0)
    kinds = {
        mach_o.LC_LOAD_DYLIB: (False, False), mach_o.LC_REEXPORT_DYLIB: (False, False),
        mach_o.LC_LOAD_UPWARD_DYLIB: (False, False), mach_o.LC_LOAD_WEAK_DYLIB: (True, False),
        mach_o.LC_LAZY_LOAD_DYLIB: (False, True),
    }  # fmt: skip
    for lc, cmd, data in header.commands:
        if lc.cmd == mach_o.LC_ID_DYLIB:
            image.compatibility = int(cmd.compatibility_version._version)
        elif lc.cmd in kinds:
            weak, lazy = kinds[lc.cmd]
            image.dependencies.append(Dependency(_cstring(data), int(cmd.compatibility_version._version), weak, lazy))
        elif lc.cmd == mach_o.LC_RPATH:
            image.rpaths.append(_cstring(data))
    return image


@dataclass
class MacFiles:
    """A Mac's tree as seen from here (`root` is `/` inside a rehearsal host); symlinks resolve inside it."""

    root: Path

    def host(self, mac_path: str) -> Path:
        return self.root / mac_path.lstrip("/")

    def to_mac(self, host_path: str) -> str:
        rel = Path(os.path.abspath(host_path)).relative_to(self.root).as_posix()
        return "/" if rel == "." else "/" + rel

    def realpath(self, mac_path: str) -> str | None:
        """The path with every symlink followed inside the tree; None when it does not exist."""
        todo, done, hops = [p for p in mac_path.split("/") if p], [], 0
        while todo:
            part = todo.pop(0)
            if part in (".", ".."):
                if part == ".." and done:
                    done.pop()
                continue
            host = self.host("/".join([*done, part]))
            if host.is_symlink():
                hops += 1
                target = os.readlink(host)
                done = [] if target.startswith("/") else done
                todo = [p for p in target.split("/") if p] + todo
                if hops > MAX_SYMLINKS:
                    return None
            elif host.exists():
                done.append(part)
            else:
                return None
        return "/" + "/".join(done)


@dataclass
class Loader:
    """One dlopen: the images loaded so far (by real path), the directories DYLD_LIBRARY_PATH adds."""

    files: MacFiles
    library_path: list[str]
    loaded: dict[str, Image] = field(default_factory=dict)

    def open_dylib(self, mac_path: str) -> Image | None:
        """The dylib dyld would take at this path, or None to go on searching."""
        real = self.files.realpath(mac_path)
        if real is None:
            return None
        if real in self.loaded:
            return self.loaded[real]
        image = read_image(self.files.host(real), mac_path)
        if isinstance(image, str) or image.filetype != 6:  # MH_DYLIB
            return None
        return image

    def candidates(self, name: str, loader: Image, chain: list[Image]) -> list[str]:
        """The paths dyld tries for one load command's name, in its order."""
        leaf = name.rsplit("/", 1)[-1]
        found = [posixpath.join(d, leaf) for d in self.library_path]
        loader_dir = posixpath.dirname(self.files.realpath(loader.path) or loader.path)
        if name.startswith("@loader_path/"):
            found.append(posixpath.normpath(posixpath.join(loader_dir, name.removeprefix("@loader_path/"))))
        elif name.startswith("@rpath/"):
            for image in [loader, *reversed(chain)]:
                for rpath in image.rpaths:
                    base = self.expand_rpath(rpath, image)
                    if base is not None:
                        found.append(posixpath.normpath(posixpath.join(base, name.removeprefix("@rpath/"))))
        elif name.startswith("/"):
            found.append(name)
        return [*found, *(posixpath.join(d, leaf) for d in FALLBACK_DIRS)]

    def expand_rpath(self, rpath: str, image: Image) -> str | None:
        if rpath.startswith("@loader_path"):
            return posixpath.dirname(self.files.realpath(image.path) or image.path) + rpath.removeprefix("@loader_path")
        return None if rpath.startswith("@") else rpath  # no main executable: @executable_path resolves nowhere

    def load_dependency(self, dep: Dependency, loader: Image, chain: list[Image]) -> Image | None:
        """The library one load command names, None for a weak one that is missing; LoadError otherwise."""
        if dep.name.startswith(SHARED_CACHE_PREFIXES) and self.files.realpath(dep.name) is None:
            return Image(dep.name, 6, 0xFFFFFFFF)  # an OS library, in dyld's shared cache: present, any version
        for path in self.candidates(dep.name, loader, chain):
            found = self.open_dylib(path)
            if found is None:
                continue
            if found.compatibility < dep.compatibility:
                if dep.weak:
                    return None
                mine, theirs = posixpath.basename(loader.path), posixpath.basename(found.path)
                raise LoadError(
                    dep.name,
                    loader.path,
                    f"Incompatible library version: {mine} requires version {version_text(dep.compatibility)} or "
                    f"later, but {theirs} provides version {version_text(found.compatibility)}",
                )
            return found
        if dep.weak:
            return None
        raise LoadError(dep.name, loader.path, "image not found")

    def load_libraries(self, image: Image, chain: list[Image]) -> None:
        """recursiveLoadLibraries: every library of `image` first, then each one's own, depth first (once each)."""
        self.loaded[self.files.realpath(image.path) or image.path] = image
        children = [self.load_dependency(dep, image, chain) for dep in image.dependencies if not dep.lazy]
        for child in children:
            if child is not None and (self.files.realpath(child.path) or child.path) not in self.loaded:
                self.load_libraries(child, [*chain, image])


def dyld_library_path(env: Mapping[str, str], machine: Machine) -> list[str]:
    """DYLD_LIBRARY_PATH as dyld would see it (empty when SIP strips it)."""
    value = env.get("DYLD_LIBRARY_PATH", "")
    if not value:
        return []
    try:
        sip = machine.read().sip
    except OSError:
        sip = {}
    if sip.get("Filesystem Protections", True):
        return []
    return [d for d in value.split(":") if d]


def dlopen(path: str, env: Mapping[str, str] | None = None, machine: Machine | None = None) -> str:
    """Check that the image at `path` (a path of this process) loads; return its Mac path, or raise OSError."""
    env = dict(os.environ if env is None else env)
    machine = machine or Machine.from_env()
    files = MacFiles(Path(os.path.abspath(machine.root)))
    try:
        mac_path = files.to_mac(path)
    except ValueError:
        mac_path = path
    prefix = f"dlopen({mac_path}, {RTLD_NOW_GLOBAL}): "
    if not os.path.exists(path):
        raise OSError(f"{prefix}image not found")
    image = read_image(files.host(mac_path), mac_path)
    if isinstance(image, str):
        raise OSError(f"{prefix}no suitable image found.  Did find:\n\t{mac_path}: {image}")
    try:
        Loader(files, dyld_library_path(env, machine)).load_libraries(image, [])
    except LoadError as exc:
        raise OSError(f"{prefix}{exc}") from None
    return mac_path
