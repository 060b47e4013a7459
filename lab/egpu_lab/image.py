"""The bare High Sierra tree of a rehearsal host, and the command shims at their real paths.

`build_root(root, spec)` lays out `<host>/root` as a fresh 10.13 install would have it (the paths the roles use:
/System/Library/CoreServices/SystemVersion.plist, /System/Library/Extensions with Apple's NVDAStartup.kext,
/Library/Extensions, /Library/Frameworks, /usr/local, /Developer, /Applications, /private/var/db/receipts,
/Volumes, /Users/admin, /var/root, and /etc, /tmp, /var as links into /private like macOS).

Commands inside the host are of two kinds:
- Linux tools that a Mac has too (sh, bash, cat, cp, ...): `/bin/cat` etc. are links into the hidden Linux runtime
  at `/.rehearsal/linux` (the sandbox binds the controller's /usr there read-only); `LINUX_TOOLS` lists them.
  Nothing else of Linux is on the PATH: above all no python3 (`/usr/bin/python` is the 2.7 stand-in).
- Imitated macOS commands: `write_shims` writes, for every `EXECUTABLES` entry of the `macos` modules, a
  two-line Python script run by the sandbox's hidden interpreter, importing only its own module.

Divergences kept because Linux binaries need them: `/lib` and `/lib64` link into the hidden runtime (the ELF
loader's path is fixed), and `/proc` and `/dev` are Linux's.
"""

from __future__ import annotations

import os
import plistlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from egpu_lab import kexts
from egpu_lab.layout import HIDDEN as HIDDEN  # the hidden mount points: image.X where the tree is made
from egpu_lab.layout import LINUX as LINUX
from egpu_lab.layout import PROJECT as PROJECT
from egpu_lab.layout import PYTHON3 as PYTHON3
from egpu_lab.layout import SIM_PYTHON as SIM_PYTHON
from egpu_lab.layout import STATE as STATE
from egpu_lab.layout import UNAME_LIB as UNAME_LIB
from egpu_lab.layout import ZIG_CACHE as ZIG_CACHE
from egpu_lab.layout import ZIGLANG as ZIGLANG

# Hidden mount points inside a host (layout.py, sandbox.py binds them).

# Linux tools exposed at their macOS locations (macOS 10.13 ships each of these, in that directory).
# tar is libarchive's bsdtar on macOS too; sh is bash in POSIX mode like macOS's /bin/sh.
LINUX_TOOLS: dict[str, tuple[str, ...]] = {
    "/bin": (
        "bash",
        "cat",
        "chmod",
        "cp",
        "date",
        "dd",
        "echo",
        "expr",
        "hostname",
        "kill",
        "ln",
        "ls",
        "mkdir",
        "mv",
        "ps",
        "pwd",
        "rm",
        "rmdir",
        "sleep",
        "stty",
        "sync",
        "test",
        "unlink",
        "[",
    ),
    "/usr/bin": (
        "awk",
        "base64",
        "basename",
        "bc",
        "bzip2",
        "cmp",
        "comm",
        "cpio",
        "curl",
        "cut",
        "diff",
        "dirname",
        "du",
        "egrep",
        "env",
        "false",
        "fgrep",
        "find",
        "grep",
        "gunzip",
        "gzip",
        "head",
        "install",
        "less",
        "logger",
        "mktemp",
        "nice",
        "nohup",
        "od",
        "openssl",
        "patch",
        "perl",
        "printf",
        "readlink",
        "sed",
        "seq",
        "shasum",
        "sort",
        "split",
        "stat",
        "tail",
        "tee",
        "touch",
        "tr",
        "true",
        "tty",
        "uniq",
        "unzip",
        "wc",
        "which",
        "xargs",
        "xxd",
        "yes",
        "zip",
        "chgrp",
        "cksum",
        "file",
        "gzcat",
        "zcat",
        "ssh",
        "scp",
        "rsync",
        "pax",
        "lsof",
        "killall",
        "nm",
        "strings",
    ),
    "/usr/sbin": ("chown",),
}
# Names whose Linux program has another name (macOS name -> Linux name).
LINUX_ALIASES: dict[str, str] = {"/bin/sh": "bash", "/usr/bin/tar": "bsdtar", "/usr/bin/gzcat": "zcat"}
LINUX_SEARCH = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
# Data the linked Linux tools read at fixed paths (file(1)'s magic database).
LINUX_DATA = ("/usr/share/misc",)
# Programs at another path on Linux: OpenSSH's sftp server, where macOS keeps it (its sshd_config's Subsystem line).
LINUX_PROGRAMS: dict[str, str] = {"/usr/libexec/sftp-server": "/usr/lib/openssh/sftp-server"}

DIRS: tuple[str, ...] = (
    "System/Library/CoreServices",
    "System/Library/Extensions",
    "System/Library/PrelinkedKernels",
    "System/Library/Frameworks",
    "Library/Extensions",
    "Library/Frameworks",
    "Library/Developer",
    "Library/GPUBundles",
    "Library/PreferencePanes",
    "Library/LaunchDaemons",
    "Library/LaunchAgents",
    "Library/Application Support",
    "usr/bin",
    "usr/sbin",
    "usr/libexec",
    "usr/lib",
    "usr/share",
    "usr/local/bin",
    "usr/local/lib",
    "usr/local/include",
    "bin",
    "sbin",
    "Developer",
    "Applications",
    "Applications/Utilities",
    "Volumes",
    "Users/admin",
    # A user who has logged in once has it; per-host preferences (nvagent's) go there.
    "Users/admin/Library/Preferences/ByHost",
    "Users/Shared",
    "private/etc",
    "private/tmp",
    "private/var/db/receipts",
    "private/var/root",
    "private/var/tmp",
    "private/var/log",
    "private/var/folders",
    "dev",
    "proc",
    ".rehearsal/linux",
    ".rehearsal/python3",
    ".rehearsal/project/egpu_lab",
    ".rehearsal/project/egpu_setup",
    ".rehearsal/project/macholib",
    ".rehearsal/machine",
    ".rehearsal/lib",
    ".rehearsal/ziglang",
    ".rehearsal/zig-cache",
)
LINKS: dict[str, str] = {
    "etc": "private/etc",
    "tmp": "private/tmp",
    "var": "private/var",
    "lib": ".rehearsal/linux/usr/lib",
    "lib64": ".rehearsal/linux/usr/lib64",
}

# /etc/passwd and /etc/group in the form macOS keeps for compatibility (Open Directory is the real source).
PASSWD = """##
# User Database
#
# Note that this file is consulted directly only when the system is running
# in single-user mode.  At other times this information is provided by
# Open Directory.
##
nobody:*:-2:-2:Unprivileged User:/var/empty:/usr/bin/false
root:*:0:0:System Administrator:/var/root:/bin/sh
daemon:*:1:1:System Services:/var/root:/usr/bin/false
admin:*:501:20:Admin:/Users/admin:/bin/bash
"""
GROUP = """nobody:*:-2:
wheel:*:0:root
daemon:*:1:root
staff:*:20:root
everyone:*:12:
admin:*:80:root,admin
"""


@dataclass(frozen=True)
class HostSpec:
    hostname: str
    build: str
    product_version: str


def _linux_target(name: str) -> str | None:
    for directory in LINUX_SEARCH:
        candidate = os.path.join(directory, name)
        if os.path.exists(candidate):
            return LINUX + os.path.realpath(candidate)
    return None


def system_version_plist(product_version: str, build: str) -> dict[str, str]:
    """SystemVersion.plist of a 10.13 install (the keys sw_vers and Python's platform.mac_ver read)."""
    return {
        "ProductBuildVersion": build,
        "ProductCopyright": "1983-2017 Apple Inc.",
        "ProductName": "Mac OS X",
        "ProductUserVisibleVersion": product_version,
        "ProductVersion": product_version,
    }


def build_root(root: Path, spec: HostSpec) -> None:
    """Create a bare High Sierra tree at `root` (which must not exist or be empty)."""
    root.mkdir(parents=True, exist_ok=True)
    for d in DIRS:
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "private/tmp", 0o1777)
    os.chmod(root / "private/var/tmp", 0o1777)
    for name, target in LINKS.items():
        (root / name).symlink_to(target)
    with open(root / "System/Library/CoreServices/SystemVersion.plist", "wb") as f:
        plistlib.dump(system_version_plist(spec.product_version, spec.build), f)
    etc = root / "private/etc"
    (etc / "passwd").write_text(PASSWD)
    (etc / "master.passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    (etc / "hosts").write_text("127.0.0.1\tlocalhost\n255.255.255.255\tbroadcasthost\n::1\tlocalhost\n")
    (etc / "shells").write_text("/bin/bash\n/bin/csh\n/bin/ksh\n/bin/sh\n/bin/tcsh\n/bin/zsh\n")
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    (root / "Users/admin/.bash_profile").write_text("")
    for kext in kexts.APPLE_KEXTS:
        kexts.make_kext(root / kext.path.lstrip("/"), kext.bundle_id, kext.version, extra=kext.extra, sign=True)
    link_linux_tools(root)
    write_shims(root)


def link_linux_tools(root: Path) -> None:
    for directory, names in LINUX_TOOLS.items():
        for name in names:
            target = _linux_target(name)
            if target:
                _force_symlink(root / directory.lstrip("/") / name, target)
    for mac_path in LINUX_DATA:
        if os.path.exists(mac_path):
            _force_symlink(root / mac_path.lstrip("/"), LINUX + os.path.realpath(mac_path))
    for mac_path, linux_name in LINUX_ALIASES.items():
        target = _linux_target(linux_name)
        if target:
            _force_symlink(root / mac_path.lstrip("/"), target)
    for mac_path, linux_path in LINUX_PROGRAMS.items():
        if os.path.exists(linux_path):
            _force_symlink(root / mac_path.lstrip("/"), LINUX + os.path.realpath(linux_path))


def _force_symlink(link: Path, target: str) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


SHIM = """#!{python} -S
import sys; sys.path.insert(0, "{project}")
from egpu_lab.macos.__main__ import dispatch
sys.exit(dispatch("{module}", "{handler}", sys.argv[1:], sys.argv[0].rpartition("/")[2]))
"""


def write_shims(root: Path) -> list[str]:
    """Write a shim for every imitated executable; returns their Mac paths."""
    from egpu_lab.macos import executables

    written = []
    for mac_path, (module, handler) in sorted(executables().items()):
        dest = root / mac_path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.is_symlink():
            dest.unlink()
        dest.write_text(SHIM.format(python=SIM_PYTHON, project=PROJECT, module=module, handler=handler))
        dest.chmod(0o755)
        written.append(mac_path)
    return written


def wipe_root(root: Path) -> None:
    """Remove a host tree (lab reset/down); tolerant of read-only dirs a run left behind."""
    if root.exists() or root.is_symlink():

        def _onerror(func, path, _exc):  # type: ignore[no-untyped-def]
            os.chmod(os.path.dirname(path), 0o755)
            func(path)

        shutil.rmtree(root, onerror=_onerror)
