"""`/usr/sbin/pkgutil`, and the BOM tools `/usr/bin/mkbom`, `/usr/bin/lsbom`.

Sources: pkgutil(1) (--pkgs, --pkg-info, --files, --forget, --expand, --flatten; --expand-full/--flatten-full as
used by mayankk2308/purge-wrangler to patch the web driver's payload in place), ../shared/docs/macos-commands.md
for the output lines; mkbom(8) (`mkbom SOURCE-DIR BOM`) and lsbom(8) (default columns: path, mode, uid/gid, size,
checksum; `-s` paths only).

Divergences: the Bom files are the lab's text stand-in (see xar_pkg), so lsbom reads only BOMs made in the lab;
--pkgs does not support --regexp/--volume; error texts for a bad --expand/--flatten argument are unconfirmed.
"""

from __future__ import annotations

import shutil

from egpu_lab.macos import receipts, xar_pkg
from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/sbin/pkgutil": "pkgutil", "/usr/bin/mkbom": "mkbom", "/usr/bin/lsbom": "lsbom"}

USAGE = "Usage: pkgutil [options] [commands] [...]"


def pkgutil(argv: list[str], sim: Sim) -> int:
    """Imitates pkgutil(1): --pkgs, --pkg-info/--files/--forget ID, --expand[-full] PKG DIR, --flatten[-full] DIR
    PKG (lines from macos-commands.md; the -full forms as purge-wrangler uses them). Divergence: error texts of
    --expand/--flatten and of a non-root --forget are unconfirmed."""
    args = [a for a in argv if a not in ("--volume", "/", "-v", "--verbose")]
    if not args:
        sim.fail(USAGE, 1)
    command, rest = args[0], args[1:]
    root = sim.machine.root
    if command == "--pkgs":
        for ident in receipts.identifiers(root):
            sim.out(ident)
        return 0
    if command in ("--pkg-info", "--files", "--forget"):
        if len(rest) != 1:
            sim.fail(USAGE, 1)
        ident = rest[0]
        receipt = receipts.read(root, ident)
        if receipt is None:
            sim.fail(f"No receipt for '{ident}' found at '/'.", 1)
        if command == "--pkg-info":
            sim.out(f"package-id: {receipt.identifier}")
            sim.out(f"version: {receipt.version}")
            sim.out("volume: /")
            sim.out(f"location: {receipt.prefix or '/'}")
            sim.out(f"install-time: {receipt.install_time}")
        elif command == "--files":
            for path in receipt.files:
                sim.out(path)
        else:
            sim.require_root("Must be run as root to forget a package.", 1)  # unconfirmed text
            receipts.forget(root, ident)
            sim.out(f"Forgot package '{ident}' on '/'.")
        return 0
    if command in ("--expand", "--expand-full", "--flatten", "--flatten-full"):
        if len(rest) != 2:
            sim.fail(USAGE, 1)
        return _expand_or_flatten(command, rest[0], rest[1], sim)
    sim.fail(USAGE, 1)


def _expand_or_flatten(command: str, src_arg: str, dest_arg: str, sim: Sim) -> int:
    src, dest = sim.path(src_arg), sim.path(dest_arg)
    full = command.endswith("-full")
    if command.startswith("--expand"):
        if dest.exists() or dest.is_symlink():
            sim.fail(f"Error: {dest_arg} already exists", 1)  # pkgutil refuses an existing DIR (text unconfirmed)
        if not src.is_file():
            sim.fail(f"Error: {src_arg} does not exist", 1)
        try:
            xar_pkg.expand(src, dest, full=full)
        except (xar_pkg.PackageError, OSError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            sim.fail(f"Error: Could not open package for expansion: {src_arg} ({exc})", 1)
        return 0
    if not src.is_dir():
        sim.fail(f"Error: {src_arg} is not a directory", 1)
    try:
        xar_pkg.flatten(src, dest, full=full)
    except (xar_pkg.PackageError, OSError) as exc:
        sim.fail(f"Error: Could not flatten {src_arg}: {exc}", 1)
    return 0


def mkbom(argv: list[str], sim: Sim) -> int:
    """Imitates mkbom(8) SOURCE-DIR BOM; divergence: writes the lab's text Bom stand-in (see xar_pkg)."""
    paths = [a for a in argv if not a.startswith("-")]
    if len(paths) != 2:
        sim.fail("usage: mkbom [-s] [-i filelist | source] target-bom-file", 1)
    src, out = sim.path(paths[0]), sim.path(paths[1])
    if not src.is_dir():
        sim.fail(f"mkbom: {paths[0]}: No such file or directory", 1)
    out.write_bytes(xar_pkg.make_bom(xar_pkg.pack_tree(src)))
    return 0


def lsbom(argv: list[str], sim: Sim) -> int:
    """Imitates lsbom(8) [-s] BOM: one line per path (default columns), or paths only with -s; divergence: reads
    only the lab's Bom stand-in."""
    paths_only = "-s" in argv
    files = [a for a in argv if not a.startswith("-")]
    if len(files) != 1:
        sim.fail("usage: lsbom [-b] [-c] [-d] [-f] [-l] [-m] [-s] [-x] [--arch archVal] [-p parameters] bom ...", 1)
    try:
        lines = xar_pkg.read_bom(sim.path(files[0]).read_bytes())
    except OSError:
        sim.fail(f"lsbom: {files[0]}: No such file or directory", 1)
    except xar_pkg.PackageError:
        sim.fail(f"lsbom: {files[0]} is not a valid bom file", 1)
    for line in lines:
        sim.out(line.split("\t", 1)[0] if paths_only else line)
    return 0
