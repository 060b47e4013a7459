"""`egpu-setup fix-rpaths`: check and fix the library references of Mach-O files by dyld's rules."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from egpu_setup.errors import ExitCode
from egpu_setup.output import Context

DESCRIPTION = """\
Resolve every library reference (LC_LOAD_DYLIB and its weak/re-export forms) of the Mach-O files named, or
found under the directories named, as dyld does on macOS 10.13: @rpath against the LC_RPATHs of the image and of
the libraries it loads, @loader_path, @executable_path, absolute paths, the default fallback
/usr/local/lib:/usr/lib. Each unresolved reference is fixed by adding an LC_RPATH for the search directory that
holds the library (--mode rpath, like `install_name_tool -add_rpath`) or by changing it to that absolute path
(--mode absolute, like `install_name_tool -change`). A second run finds nothing to do and changes nothing.

--tool says what writes the fix: install_name_tool (Apple's, found by `xcrun --find install_name_tool`, else on
PATH) runs once per file with all its edits (-change OLD NEW ... -add_rpath DIR ... FILE), after which the file is
read again and checked; builtin is egpu-setup's own load-command writer; auto (the default) is install_name_tool
where one is found, else builtin. -v prints the install_name_tool invocations, --json lists them ("commands").

With --root the files are those of a Mac's tree copied here (a rehearsal Mac: <lab>/hosts/<name>/root): PATHs
under it are used as they are, other PATHs, --search and --executable are paths on that Mac. Libraries under
/usr/lib and /System/Library that the root lacks count as found in dyld's shared cache."""

EPILOG = """\
exit codes: 0 every reference resolves (with --check: nothing to do), 1 something does not resolve, 2 bad input
(a missing, non-Mach-O, truncated or corrupt file, a FIFO or device named, a file named or found in a walk that
cannot be read, one without room for a new load command, --tool install_name_tool where there is none); a walk
skips and lists what is not a regular file (FIFO, socket, device), symbolic links and non-Mach-O files. On 2
no file is changed, unless the system or install_name_tool refuses a file midway: files written before it stay
fixed, every file stays whole (install_name_tool writes nothing when it refuses); the plans of the files not
written are listed as "not done"."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fix-rpaths",
        help="make dyld find the CUDA libraries of a self-built libmxnet.so (LC_RPATH / install names)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Mach-O file or directory to walk")
    parser.add_argument("--root", default="/", metavar="DIR", help="the Mac's root directory (default: /)")
    parser.add_argument(
        "--search",
        action="append",
        metavar="DIR",
        help="directory on the Mac where missing libraries may be found (repeatable; default: /usr/local/cuda/lib)",
    )
    parser.add_argument(
        "--mode",
        choices=("rpath", "absolute"),
        default="rpath",
        help="fix @rpath references by adding an LC_RPATH (default) or by changing them to absolute paths",
    )
    parser.add_argument("--executable", metavar="PATH", help="main executable, to check @executable_path references")
    parser.add_argument(
        "--tool",
        choices=("auto", "install_name_tool", "builtin"),
        default="auto",
        help="what writes the fix: Apple's install_name_tool, egpu-setup's builtin writer, or auto (the default: "
        "install_name_tool where xcrun or PATH finds it, else builtin)",
    )
    parser.add_argument("--check", action="store_true", help="print the plan and change nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the install_name_tool invocations")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.macho.fixer import fix_rpaths

    report = fix_rpaths(
        list(args.paths),
        root=args.root,
        search=args.search,
        mode=args.mode,
        check=args.check,
        executable=args.executable,
        tool=args.tool,
    )
    for error in report.errors:
        ctx.error(error.error or "failed", error.fix)
    if report.errors and not args.check and not report.changed:
        ctx.note("nothing was changed")
    if args.json:
        ctx.emit_json("fix_rpaths", report.to_dict())
    else:
        _print(ctx, report, args.verbose)
    return int(ExitCode(report.exit_code))


def _print(ctx: Context, report: Any, verbose: bool = False) -> None:
    from rich.markup import escape

    console = ctx.console()

    def line(text: str) -> None:
        console.print(text, soft_wrap=True)  # long paths stay on one line, also in pipes and logs

    if verbose:
        how = f" ({report.tool_path}, by {report.tool_how})" if report.tool_path else ""
        line(f"writer: {escape(report.tool)}{escape(how)}")
    for f in report.files:
        if verbose and f.command:
            ran = "ran" if f.ran else "would run" if report.check else "not run"
            line(f"{escape(f.path)}: {ran}: {escape(shlex.join(f.command))}")
            if f.tool_output:
                line(f"  install_name_tool said: {escape(f.tool_output)}")
        if f.status == "error":
            continue
        archs = f" ({', '.join(f.archs)})" if len(f.archs) > 1 else ""
        style = {"ok": "green", "fixed": "green", "would-fix": "yellow", "failing": "red"}.get(f.status, "")
        line(f"[bold]{escape(f.path)}[/bold]{escape(archs)}: [{style}]{f.status}[/{style}]")
        for item in f.unresolved_before:
            line(f"  unresolved: {escape(_ref(item, f, len(f.archs) > 1))}")
        # "did" only for a file that was written: after a failed run the others' plans were not carried out
        verb = "would" if report.check else "did" if f.changed else "not done"
        for action in f.actions:
            line(f"  {verb}: {escape(action.text())}")
        for item in f.still_failing:
            line(f"  [red]still failing[/red]: {escape(_ref(item, f, len(f.archs) > 1))}")
        for note in f.notes:
            line(f"  note: {escape(note)}")
    if report.skipped:
        names = [s["path"] for s in report.skipped]
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        ctx.note(f"skipped {len(names)} file(s) that are not loadable Mach-O, not regular files or symlinks: {shown}")
    counts: dict[str, int] = {}
    for f in report.files:
        counts[f.status] = counts.get(f.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no Mach-O files"
    line(f"{len(report.files)} file(s): {escape(summary)}")


def _ref(item: dict[str, Any], f: Any, fat: bool) -> str:
    text = f"{item['name']}"
    if item.get("loaded_by") and item["loaded_by"] != f.mac_path:
        text += f" (needed by {item['loaded_by']})"
    if item.get("kind") not in ("load", None):
        text += f" [{item['kind']}]"
    if fat:
        text = f"[{item['arch']}] {text}"
    if item.get("status") == "incompatible":  # found, but refused: the reason is the point
        text += f": {item['note']}"
    return text


