"""`egpu-setup cache`: fetch, add, list and verify the installers a lab draws from."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from egpu_setup.cli.arg_types import inventory_path, name_arg, path_arg
from egpu_setup.errors import CheckFailed, EgpuError, ExitCode
from egpu_setup.output import Context, size_text
from egpu_setup.paths import DEFAULT_LOCK_NAME

if TYPE_CHECKING:  # only for annotations: the cache package loads inside the commands
    from egpu_setup.cache import Cache


def register(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--cache-dir",
        metavar="DIR",
        type=path_arg,
        help="the cache (default: $EGPU_SETUP_CACHE, else $XDG_CACHE_HOME/egpu-setup, else ~/.cache/egpu-setup)",
    )
    with_lock = argparse.ArgumentParser(add_help=False)
    with_lock.add_argument(
        "--lock", metavar="FILE", type=path_arg, default=Path(DEFAULT_LOCK_NAME),
        help=f"the lab's lock file, beside its inventory (default: ./{DEFAULT_LOCK_NAME})",
    )  # fmt: skip
    with_lock.add_argument("--overlay", metavar="FILE", type=path_arg, help="matrix overlay YAML (a lab's mirror URLs)")

    parser = subparsers.add_parser(
        "cache",
        help="fetch, add, list and verify installers in the local artifact cache",
        description="The content-addressed store of installers (by SHA-256) that every Mac of a lab draws from.",
    )
    parser.set_defaults(run=_usage(parser))
    actions = parser.add_subparsers(dest="cache_action", metavar="ACTION")

    fetch = actions.add_parser(
        "fetch",
        parents=[common, with_lock],
        help="download what a profile needs (resumes; verifies SHA-256, and SHA-512 where published)",
        description="Download every installer a profile (or one build's resolution) needs into the cache, resuming "
        "cut downloads and checking each SHA-256 against the matrix or the lock file, and record the digests in the "
        "lock file. Installers behind a login are named with the command that imports them by hand.",
    )
    fetch.add_argument(
        "--profile", metavar="P", type=name_arg, default="default", help="named stack (default: default)"
    )
    fetch.add_argument("--build", metavar="B", help="macOS build: fetch exactly its resolution (e.g. 17C88)")
    fetch.add_argument("--only", metavar="ID", action="append", default=[], help="only this artifact id (repeatable)")
    fetch.add_argument(
        "--url", metavar="ID=URL", action="append", default=[], help="download artifact ID from URL (repeatable)"
    )
    fetch.add_argument("--mirror", metavar="URL", help="fetch every file from URL/<filename> (a lab mirror)")
    fetch.set_defaults(run=run_fetch)

    add = actions.add_parser(
        "add",
        parents=[common, with_lock],
        help="import a file fetched by hand (e.g. cuDNN)",
        description="Import an installer downloaded by hand (cuDNN and Command Line Tools sit behind logins): say "
        "which artifact it is (by published SHA-256 or SHA-512, the lock file or its name), store it by SHA-256 "
        "and pin it in the lock file. The file itself stays where it is.",
    )
    add.add_argument("file", metavar="FILE", type=path_arg, help="the downloaded installer")
    add.add_argument("--as", dest="as_", metavar="ID[@VERSION]", help="which artifact it is, if renamed")
    add.set_defaults(run=run_add)

    listing = actions.add_parser(
        "list", parents=[common], help="what the cache holds", description="List the cached installers."
    )
    listing.add_argument("--json", action="store_true", help="print JSON on stdout")
    listing.set_defaults(run=run_list)

    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="re-hash every cached file (exit 1 if one is bad)",
        description="Re-hash every cached file against its SHA-256; exit 1 and name the bad ones if any is missing "
        "or corrupt.",
    )
    verify.add_argument("--json", action="store_true", help="print JSON on stdout")
    verify.set_defaults(run=run_verify)
    _register_bundle(actions, common)


def _register_bundle(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`cache export` and `cache import`: a lab's artifacts in one tar, for a controller without internet."""
    export = actions.add_parser(
        "export",
        parents=[common],
        help="write every artifact a lab's lock records, with the lock and a manifest, to one tar file",
        description="Write every artifact the lock file beside INVENTORY records (each re-hashed), that lock and a "
        "manifest (names, sizes, SHA-256) to FILE, one uncompressed tar written atomically, for `cache import` on a "
        "controller without internet.",
    )
    export.add_argument("-i", "--inventory", metavar="INV", type=inventory_path, required=True,
                        help=f"the lab's inventory; its lock is the {DEFAULT_LOCK_NAME} beside it")  # fmt: skip
    export.add_argument("file", metavar="FILE", type=path_arg, help="the bundle to write, e.g. lab-artifacts.tar")
    export.set_defaults(run=run_export)

    imp = actions.add_parser(
        "import",
        parents=[common],
        help="verify a bundle from `cache export` and add its files to the cache (nothing partial is kept)",
        description="Check every file of a bundle written by `cache export` against its manifest and lock (size and "
        "SHA-256) before it enters the cache; a damaged or truncated bundle is refused (exit 2) and nothing of it "
        "kept. Files the cache holds already are skipped, so importing twice changes nothing.",
    )
    imp.add_argument("file", metavar="FILE", type=path_arg, help="the bundle")
    imp.add_argument(
        "--lock", metavar="FILE", type=path_arg, help="also record the bundle's lock entries in this lock file"
    )
    imp.set_defaults(run=run_import)


def _usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace, Context], int]:
    def run(args: argparse.Namespace, ctx: Context) -> int:
        raise EgpuError(
            "`cache` needs an action: fetch, add, list, verify, export or import", fix=f"see `{parser.prog} --help`"
        )

    return run


def _cache(args: argparse.Namespace) -> Cache:
    from egpu_setup.cache import Cache

    return Cache(args.cache_dir)


def _url_overrides(values: list[str]) -> dict[str, str]:
    from egpu_setup.cache.download import check_url
    from egpu_setup.matrix import ARTIFACT_IDS

    overrides = {}
    for value in values:
        artifact_id, sep, url = value.partition("=")
        if not sep or artifact_id not in ARTIFACT_IDS or not url:
            raise EgpuError(
                f"--url {value!r}: expected ID=URL with ID one of {', '.join(ARTIFACT_IDS)}",
                fix="e.g. --url cuda_driver=https://mirror.example/cudadriver_387.128_macos.dmg",
            )
        check_url(url, f"--url {artifact_id}: URL")
        overrides[artifact_id] = url
    return overrides


def run_fetch(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.cache import Lock, ManualDownloadNeeded
    from egpu_setup.cache.progress import RichProgress
    from egpu_setup.matrix import ARTIFACT_IDS, load_matrix

    for artifact_id in args.only:
        if artifact_id not in ARTIFACT_IDS:
            raise EgpuError(f"--only {artifact_id}: unknown artifact id", fix=f"use one of {', '.join(ARTIFACT_IDS)}")
    overrides = _url_overrides(args.url)
    if args.mirror is not None:
        from egpu_setup.cache.download import check_url

        check_url(args.mirror, "--mirror")
    matrix = load_matrix(overlay=args.overlay)
    if args.build:
        plan = matrix.resolve(args.build, profile=args.profile)
        for warning in plan.warnings:
            ctx.note(f"warning: {warning}")
        artifacts = [a for a in plan.artifacts.values() if a is not None]
    else:
        artifacts = matrix.profile_artifacts(args.profile)
    if args.only:
        for artifact_id in sorted(set(args.only) - {a.id for a in artifacts}):
            ctx.note(f"note: {artifact_id} is not needed on this build with profile {args.profile}")
        artifacts = [a for a in artifacts if a.id in args.only]
    lock = Lock.load(args.lock)
    cache = _cache(args)
    manual: list[ManualDownloadNeeded] = []
    with RichProgress(ctx.console("stderr")) as progress:
        for artifact in artifacts:
            try:
                path = cache.ensure(
                    artifact, lock=lock, mirror=args.mirror, url=overrides.get(artifact.id), progress=progress
                )
            except ManualDownloadNeeded as exc:
                manual.append(exc)
                continue
            finally:
                if lock.changed:
                    lock.save()  # what was verified so far stays pinned, even if a later file fails
            ctx.note(f"ok  {artifact.id} {artifact.version}: {path}")
    if manual:
        for exc in manual:
            ctx.error(exc.message, exc.fix)
        # The same problem as provision's and plan's "not in the cache": an input the user must supply (exit 2).
        raise EgpuError(
            f"{len(manual)} artifact(s) must be downloaded by hand (see above); the others are in {cache.root}",
            fix="add each with `egpu-setup cache add FILE`, then run `egpu-setup cache fetch` again",
        )
    recorded = f"; SHA-256 recorded in {lock.path}" if artifacts else ""
    ctx.note(f"{len(artifacts)} artifact(s) in {cache.root}{recorded}")
    return ExitCode.OK


ADD_FIX = "give the path of the downloaded installer"


def _check_source(source: Path) -> None:
    """The file to add: a regular, readable, non-empty file, opened once without blocking (a FIFO is refused)."""
    import os

    from egpu_setup.files import NotRegularFile, open_regular

    try:
        with open_regular(source) as handle:
            size = os.fstat(handle.fileno()).st_size
    except NotRegularFile as exc:
        raise EgpuError(f"{source} is not a file (it is {exc.kind})", fix=ADD_FIX) from None
    except FileNotFoundError:
        raise EgpuError(f"{source} is not a file", fix=ADD_FIX) from None
    except OSError as exc:
        raise EgpuError(f"cannot read {source}: {exc.strerror or exc}",
                        fix="make the file readable (chmod u+r), or add it as a user who can read it") from None
    if size == 0:
        raise EgpuError(f"{source} is empty", fix="download the installer again; an empty file is never stored")


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.cache import Lock
    from egpu_setup.cache.identify import identify
    from egpu_setup.cache.store import digests_of
    from egpu_setup.matrix import load_matrix

    source: Path = args.file
    _check_source(source)
    matrix = load_matrix(overlay=args.overlay)
    lock = Lock.load(args.lock)
    digest, sha512 = digests_of(source)
    found = identify(matrix, source, digest, lock=lock, as_=args.as_, sha512=sha512)
    artifact = found.artifact
    lock.check(artifact, digest, what=str(source))
    cache = _cache(args)
    path = cache.add_file(source, artifact, digest)
    new = lock.record(artifact, digest, sha512=sha512 if artifact.sha512 else None, size=path.stat().st_size)
    if lock.changed:
        lock.save()
    pinned = ""
    if new and artifact.sha512 and not artifact.sha256:
        pinned = f"; its published SHA-512 matched, so its SHA-256 is now pinned in {lock.path}"
    elif new and not artifact.sha256:
        pinned = f"; no checksum is published, so it is now pinned in {lock.path}"
    ctx.console().print(
        f"{source.name} is {artifact.id} {artifact.version} (identified by {found.how}); "
        f"SHA-256 {digest}; stored as {path}{pinned}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    return ExitCode.OK


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    cache = _cache(args)
    entries = cache.entries()
    if args.json:
        ctx.emit_json("cache_list", {"cache": str(cache.root), "entries": [e.to_dict() for e in entries]})
        return ExitCode.OK
    from rich.table import Table

    table = Table(title=f"Cache {cache.root}", title_justify="left")
    for column in ("artifact", "version", "file", "size", "sha256"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(entry.id, entry.version, entry.filename, size_text(entry.size), f"{entry.sha256[:16]}…")
    console = ctx.console()
    console.print(table if entries else f"the cache {cache.root} is empty")
    return ExitCode.OK


def run_verify(args: argparse.Namespace, ctx: Context) -> int:
    cache = _cache(args)
    entries = cache.entries()
    problems = cache.verify()
    if args.json:
        ctx.emit_json("cache_verify", {"cache": str(cache.root), "checked": len(entries), "problems": problems})
    if problems:
        raise CheckFailed(
            f"{len(problems)} of {len(entries)} cached file(s) are bad:\n  " + "\n  ".join(problems),
            fix="delete the named file(s) and run `egpu-setup cache fetch` (or `cache add` for files fetched by hand)",
        )
    if not args.json:
        ctx.note(f"{len(entries)} cached file(s) in {cache.root}: all match their SHA-256")
    return ExitCode.OK


def run_export(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.cache.bundle import export_bundle

    lock_path = args.inventory.expanduser().absolute().parent / DEFAULT_LOCK_NAME
    if not args.inventory.exists():
        raise EgpuError(f"no inventory at {args.inventory}", fix="give the lab's inventory with -i")
    entries = export_bundle(_cache(args), lock_path, args.file)
    total = sum(entry.size for entry in entries)
    ctx.note(f"{len(entries)} artifact(s), {size_text(total)}, and {lock_path.name} written to {args.file}")
    return ExitCode.OK


def run_import(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.cache.bundle import import_bundle

    cache = _cache(args)
    result = import_bundle(cache, args.file, lock_path=args.lock)
    for entry in result.added:
        ctx.note(f"added    {entry.id} {entry.version}: {entry.filename}")
    recorded = f"; {result.lock_recorded} entr(ies) recorded in {args.lock}" if args.lock else ""
    ctx.note(f"{len(result.added)} file(s) imported into {cache.root}, {len(result.present)} already there{recorded}")
    return ExitCode.OK
