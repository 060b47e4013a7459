"""Check and fix the library references of Mach-O files: the logic behind `egpu-setup fix-rpaths` and the
`egpu.mac.macho_rpaths` Ansible module (one implementation for both).

Per unresolved reference the plan is, in mode `rpath` (the default), to add an LC_RPATH for the directory where a
search directory holds the library (`install_name_tool -add_rpath`), and in mode `absolute`, or for a reference
that does not start with @rpath/, to change the reference to that absolute path (`install_name_tool -change`).
Everything is planned and checked by dyld's rules before the first byte is written.

The plan is written by one of two tools (`tool`):
- `install_name_tool`: Apple's, found by `xcrun --find` (see `tool`); one invocation per file with all its edits
  (`-change OLD NEW ... -add_rpath DIR ... FILE`), each run, the file read again and checked against the plan and
  by dyld's rules. Files that our room model says will not fit go first, so that install_name_tool's refusal
  (it writes nothing when it refuses) normally stops the run before any file changed; a refusal it makes where
  the model saw room stops the run too, the files before it staying fixed.
- `builtin`: egpu-setup's own load-command writer (`edit`), checked in full first; a file with a problem stops
  the whole run with nothing changed. For Linux, --root trees, and where there is no install_name_tool.
`auto` (the default) takes install_name_tool where xcrun or PATH finds it, else builtin. Runs on the target:
standard library and macholib only.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import posixpath
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from egpu_setup.errors import EgpuError
from egpu_setup.files import NotRegularFile, file_sha256, open_regular
from egpu_setup.macho import tool as tools
from egpu_setup.macho.dyld import ImageCheck, Resolution, Root, check_slice
from egpu_setup.macho.edit import NoHeaderRoom, SliceEdit, plan_bytes, write_edits
from egpu_setup.macho.reader import LOADABLE_FILETYPES, MachOError, MachOFile, Slice, sniff

# Where CUDA 9.1 and cuDNN 7 put their dylibs on a Mac (high-sierra-egpu.md): the default search directory.
DEFAULT_SEARCH = ("/usr/local/cuda/lib",)
MODES = ("rpath", "absolute")


@dataclass
class Action:
    """One change to one file: `add_rpath` VALUE, or `change` OLD -> VALUE; for the listed references."""

    kind: str
    value: str
    old: str | None = None
    archs: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def text(self) -> str:
        what = f"add LC_RPATH {self.value}" if self.kind == "add_rpath" else f"change {self.old} -> {self.value}"
        if self.kind == "add_rpath" and self.fixes:
            what += f" (for {', '.join(self.fixes)})"
        return what

    def to_dict(self) -> dict[str, object]:
        return {"action": self.kind, "value": self.value, "old": self.old, "archs": self.archs, "fixes": self.fixes}


@dataclass
class FileReport:
    path: str  # as given or found in the walk
    mac_path: str
    archs: list[str] = field(default_factory=list)
    status: str = "ok"  # ok | fixed | would-fix | failing | error
    unresolved_before: list[dict[str, object]] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    still_failing: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    fix: str | None = None
    references: list[dict[str, object]] = field(default_factory=list)  # every direct reference, after
    before: list[str] = field(default_factory=list)  # the reference load commands, for diffs
    after: list[str] = field(default_factory=list)
    changed: bool = False
    writer: str | None = None  # install_name_tool | builtin, for a file with edits
    command: list[str] | None = None  # the install_name_tool invocation (run, or planned in check mode)
    tool_output: str | None = None  # what install_name_tool printed
    ran: bool = False  # whether `command` ran

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "mac_path": self.mac_path,
            "archs": self.archs,
            "status": self.status,
            "changed": self.changed,
            "unresolved_before": self.unresolved_before,
            "actions": [a.to_dict() for a in self.actions],
            "still_failing": self.still_failing,
            "references": self.references,
            "notes": self.notes,
            "error": self.error,
            "fix": self.fix,
            "load_commands_before": self.before,
            "load_commands_after": self.after,
            "writer": self.writer,
            "command": self.command,
            "ran": self.ran,
            "tool_output": self.tool_output,
        }


@dataclass
class FixReport:
    root: str
    mode: str
    check: bool
    search: list[str]
    files: list[FileReport] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    tool: str = "builtin"  # the writer: install_name_tool or builtin
    tool_path: str | None = None
    tool_how: str = ""  # how install_name_tool was found, or why it was not

    @property
    def commands(self) -> list[str]:
        """The install_name_tool invocations, as shell text, in the order they ran (or would run)."""
        return [shlex.join(f.command) for f in self.files if f.command]

    @property
    def errors(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "error"]

    @property
    def changed(self) -> bool:
        return any(f.changed for f in self.files)

    @property
    def exit_code(self) -> int:
        """0 all resolved, 1 something still fails (in check mode: something is unresolved now), 2 bad input."""
        if self.errors:
            return 2
        if self.check:
            return 1 if any(f.unresolved_before for f in self.files) else 0
        return 1 if any(f.still_failing for f in self.files) else 0

    def to_dict(self) -> dict[str, object]:
        return {
            "root": self.root,
            "mode": self.mode,
            "check": self.check,
            "search": self.search,
            "changed": self.changed,
            "exit_code": self.exit_code,
            "files": [f.to_dict() for f in self.files],
            "skipped": self.skipped,
            "tool": self.tool,
            "tool_path": self.tool_path,
            "tool_how": self.tool_how,
            "commands": self.commands,
        }


def fix_rpaths(
    paths: list[str],
    root: str = "/",
    search: list[str] | None = None,
    mode: str = "rpath",
    check: bool = False,
    executable: str | None = None,
    tool: str | None = None,
) -> FixReport:
    """Check (and unless `check`, fix) every Mach-O file named or found under the directories named.

    `paths` and `executable` are paths here: under `root`, or else taken as Mac paths inside it. `search` holds
    Mac paths (a path here under `root` is accepted too). `tool`: auto (None), install_name_tool or builtin (see
    the module docstring); EgpuError when install_name_tool is asked for and there is none. Problems with a file
    are reported in its FileReport (status "error"); then nothing more is written.
    """
    if mode not in MODES:
        raise EgpuError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    if not Path(root).is_dir():
        raise EgpuError(f"root {root}: not a directory", fix="give the Mac's root directory (/ on the Mac itself)")
    writer, found = tools.choose(tool)
    fs = Root(root)
    report = FixReport(str(fs.root), mode, check, [_to_mac(fs, s) for s in (search or DEFAULT_SEARCH)], tool=writer)
    if found is not None:
        report.tool_path, report.tool_how = found.path, found.how
    exe_mac = _to_mac(fs, executable) if executable else None
    if exe_mac is not None and fs.realpath(exe_mac) is None:
        raise EgpuError(f"executable {executable}: no such file", fix="give the main executable's path on the Mac")

    fixing = _Fixing(fs, report, exe_mac, explicit_tool=tool == tools.TOOL)
    for mac_real, shown in _collect(fs, paths, report):
        fixing.plan_file(mac_real, shown)
    fixing.verify_plans()
    if report.errors or check:
        fixing.report_plans_only()
        return report
    fixing.write_all()
    fixing.read_back()
    return report


# A file's plan: its image as read, the edits per slice, its report.
FilePlan = tuple[MachOFile, dict[int, SliceEdit], FileReport]


@dataclass
class _Fixing:
    """One fix_rpaths run, step by step: plan each file, verify the plans together, then write and read back."""

    fs: Root
    report: FixReport
    exe_mac: str | None
    explicit_tool: bool  # install_name_tool was asked for by name: a plan it cannot express is an error
    plans: dict[str, FilePlan] = field(default_factory=dict)
    regions: dict[str, dict[int, tuple[bytes, int]]] = field(default_factory=dict)  # the builtin writer's bytes
    no_room: set[str] = field(default_factory=set)  # files install_name_tool must try first

    def checks(self, mac_real: str, image: MachOFile) -> list[ImageCheck]:
        return [check_slice(self.fs, mac_real, sl, self.exe_mac) for sl in image.slices]

    def plan_file(self, mac_real: str, shown: str) -> None:
        """Check the file by dyld's rules and plan its edits; the planned image goes into the overlay, so that
        the files checked after it see it fixed."""
        report, fs = self.report, self.fs
        file_report = FileReport(path=shown, mac_path=mac_real)
        report.files.append(file_report)
        image = fs.image(mac_real)
        if isinstance(image, MachOError):
            _fail(file_report, image.message, image.fix)
            return
        file_report.archs = image.archs
        file_report.before = image.describe()
        checks = self.checks(mac_real, image)
        file_report.unresolved_before = _failures(checks)
        for c in checks:
            unknown = [f"{r.name}: {r.note}" for r in c.direct if r.status == "unknown"]
            file_report.notes += [n for n in [*c.notes, *unknown] if n not in file_report.notes]
        edits = _plan(fs, image, checks, report.search, report.mode, file_report)
        if any(edits.values()):
            file_report.writer = "builtin"
            if report.tool == tools.TOOL:
                edits = _as_invocation(image, edits, file_report, report, str(fs.host(mac_real)), self.explicit_tool)
            if file_report.status == "error":
                return
            fs.overlay[mac_real] = _simulate(image, edits)
            if image.code_signed and report.check:
                file_report.notes.append(
                    "the file is code-signed: the fix invalidates the signature, which is then re-signed ad hoc "
                    "where codesign exists (on the Mac: codesign --force --sign - FILE)"
                )
        self.plans[mac_real] = (image, edits, file_report)

    def verify_plans(self) -> None:
        """Verify the plan as a whole (an rpath added to one file may serve the libraries it loads), check room."""
        for mac_real, (image, edits, file_report) in self.plans.items():
            after_image = self.fs.overlay.get(mac_real, image)
            file_report.after = after_image.describe()
            after_checks = self.checks(mac_real, after_image)
            file_report.still_failing = _failures(after_checks)
            file_report.references = _references(after_checks)
            if not any(edits.values()):
                continue
            try:
                self.regions[mac_real] = plan_bytes(self.fs.host(mac_real), image, edits)
            except NoHeaderRoom as exc:
                if file_report.writer == tools.TOOL:
                    self.no_room.add(mac_real)  # install_name_tool decides; it goes first (see the module docstring)
                else:
                    _fail(file_report, exc.message, exc.fix)
            except OSError as exc:
                _fail(file_report, f"{file_report.path}: cannot read: {exc}")

    def report_plans_only(self) -> None:
        """Check mode, or stopped by an error before writing: each file reports its plan, not a result."""
        for _, _, file_report in self.plans.values():
            if file_report.status != "error":
                # Stopped by another file's error: nothing was written, so report the plan, not a result.
                file_report.status = _status(file_report, check=True)
                if not self.report.check and file_report.actions:
                    file_report.notes.append("not changed: the run stopped at an error in another file")

    def write_all(self) -> None:
        """Write every planned file, those install_name_tool may refuse first; stop at the first failure."""
        order = sorted(self.plans, key=lambda m: m not in self.no_room)  # stable: otherwise in the order found
        stopped = False
        for mac_real in order:
            image, edits, file_report = self.plans[mac_real]
            if not any(edits.values()):
                continue
            if stopped:
                file_report.notes.append("not changed: the run stopped at an error in another file")
                continue
            stopped = not self.write_file(mac_real, image, file_report)

    def write_file(self, mac_real: str, image: MachOFile, file_report: FileReport) -> bool:
        """Write one file's plan, check install_name_tool's result against it, re-sign; False when it failed."""
        fs = self.fs
        if file_report.writer == tools.TOOL:
            written = _write_with_tool(fs, mac_real, file_report)
        else:
            written = _write_builtin(fs, mac_real, image, self.regions[mac_real], file_report)
        if not written:
            return False
        file_report.changed = True
        fs.overlay.pop(mac_real, None)
        fs.forget(mac_real)
        if file_report.writer == tools.TOOL:
            _check_against_plan(fs, mac_real, file_report)
            if file_report.status == "error":
                return False
        if image.code_signed:
            file_report.notes.append(_resign(fs.host(mac_real)))
        return True

    def read_back(self) -> None:
        """What the files say now, read back from disk."""
        for mac_real, (_, _, file_report) in self.plans.items():
            if file_report.status == "error":
                continue
            now = self.fs.image(mac_real)
            if isinstance(now, MachOError):  # pragma: no cover - checked right after writing
                _fail(file_report, f"rewritten file does not parse: {now.message}")
                continue
            file_report.after = now.describe()
            final_checks = self.checks(mac_real, now)
            file_report.still_failing = _failures(final_checks)
            file_report.references = _references(final_checks)
            file_report.status = _status(file_report, check=False)


def _write_builtin(
    fs: Root, mac_real: str, image: MachOFile, regions: dict[int, tuple[bytes, int]], file_report: FileReport
) -> bool:
    try:
        write_edits(fs.host(mac_real), image, regions)
    except OSError as exc:  # the original stays whole: edits go to a temporary file first
        _fail(file_report, f"{file_report.path}: cannot write: {exc.strerror or exc}",
              "run as a user who may write the file (become/sudo); it was not changed")  # fmt: skip
        return False
    return True


def _write_with_tool(fs: Root, mac_real: str, file_report: FileReport) -> bool:
    """Run the file's install_name_tool invocation; on a refusal, report it and whether the file is unchanged."""
    assert file_report.command is not None
    host = fs.host(mac_real)
    before = file_sha256(host)
    ran = tools.run(file_report.command)
    file_report.ran = True
    file_report.tool_output = (ran.stderr + ran.stdout).strip() or None
    if ran.returncode == 0:
        return True
    unchanged = file_sha256(host) == before
    said = ran.stderr.strip() or ran.stdout.strip() or f"exit {ran.returncode}"
    state = "the file is unchanged" if unchanged else "and the file CHANGED although it refused"
    if "do not fit" in said:
        fix = (
            "relink it with -headerpad_max_install_names so the load commands can grow (for MXNet: "
            f"ADD_LDFLAGS = -Wl,-headerpad_max_install_names in config.mk, apache/mxnet 1.0.0 Makefile); {state}"
        )
    else:
        fix = f"see install_name_tool's message; {state}"
    _fail(file_report, f"install_name_tool refused {file_report.path} (exit {ran.returncode}): {said}", fix)
    return False


def _check_against_plan(fs: Root, mac_real: str, file_report: FileReport) -> None:
    """The file as install_name_tool left it must parse and carry exactly the planned references."""
    now = fs.image(mac_real)
    if isinstance(now, MachOError):
        _fail(file_report, f"install_name_tool wrote a file that does not parse: {now.message}",
              "restore the file (rebuild it) and run again with --tool builtin")  # fmt: skip
        return
    got = [line for line in now.describe() if line != "LC_CODE_SIGNATURE"]
    planned = [line for line in file_report.after if line != "LC_CODE_SIGNATURE"]
    if got != planned:
        _fail(file_report, f"install_name_tool's result differs from the plan: {got} instead of {planned}",
              "report this; --tool builtin writes exactly the plan")  # fmt: skip


def _as_invocation(
    image: MachOFile,
    edits: dict[int, SliceEdit],
    file_report: FileReport,
    report: FixReport,
    host_path: str,
    explicit: bool,
) -> dict[int, SliceEdit]:
    """The plan as one install_name_tool invocation, which edits every slice alike, and the slice edits that
    invocation makes (what the plan is then verified with). A plan it cannot express (an LC_RPATH that some
    slice has already, one name changed to different paths per slice) is written by the built-in writer, or is
    an error where install_name_tool was asked for."""
    changes: dict[str, str] = {}
    add: list[str] = []
    why = None
    for index, edit in edits.items():
        sl = image.slices[index]
        names = {d.index: d.name for d in sl.deps}
        for cmd_index, new in edit.rename.items():
            old = names[cmd_index]
            if changes.setdefault(old, new) != new:
                why = f"{old} would become {changes[old]} in one slice and {new} in another"
        add += [d for d in edit.add_rpaths if d not in add]
    for sl in image.slices:
        for directory in add:
            if directory in sl.rpaths:
                why = f"the {sl.arch} slice has LC_RPATH {directory} already (install_name_tool would refuse)"
    if why is not None:
        if explicit:
            _fail(file_report, f"{file_report.path}: install_name_tool edits every slice alike, and here {why}",
                  "use --tool builtin (tool: builtin), which edits each slice on its own")  # fmt: skip
        else:
            file_report.notes.append(f"written by the built-in writer: install_name_tool edits every slice alike, "
                                     f"and here {why}")  # fmt: skip
        return edits
    file_report.writer = tools.TOOL
    assert report.tool_path is not None
    file_report.command = tools.invocation(report.tool_path, list(changes.items()), add, host_path)
    uniform: dict[int, SliceEdit] = {}
    for index, sl in enumerate(image.slices):
        rename = {d.index: changes[d.name] for d in sl.deps if d.name in changes}
        uniform[index] = SliceEdit(add_rpaths=list(add), rename=rename)
    for action in file_report.actions:  # what the one invocation does, slice by slice
        if action.kind == "add_rpath":
            action.archs = list(image.archs)
        else:
            action.archs = [sl.arch for sl in image.slices if any(d.name == action.old for d in sl.deps)]
    return uniform


def _status(file_report: FileReport, check: bool) -> str:
    if file_report.still_failing:
        return "failing"
    if file_report.actions:
        return "would-fix" if check else "fixed"
    return "ok"


def _fail(file_report: FileReport, message: str, fix: str | None = None) -> None:
    file_report.status, file_report.error, file_report.fix = "error", message, fix


def _to_mac(fs: Root, path: str) -> str:
    """A path here under the root -> its Mac path; anything else is already a Mac path."""
    absolute = os.path.abspath(path)
    if str(fs.root) != "/" and (absolute == str(fs.root) or absolute.startswith(str(fs.root) + os.sep)):
        return fs.to_mac(absolute)
    return posixpath.normpath("/" + path.lstrip("/")) if str(fs.root) != "/" else absolute


def _collect(fs: Root, paths: list[str], report: FixReport) -> list[tuple[str, str]]:
    """(real Mac path, path to show) of every Mach-O file to treat, in order, without duplicates."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(mac_real: str, shown: str) -> None:
        if mac_real not in seen:
            seen.add(mac_real)
            out.append((mac_real, shown))

    for given in paths:
        mac = _to_mac(fs, given)
        real, errno_ = fs.resolve(mac)
        if real is None:
            error = FileReport(path=given, mac_path=mac)
            if errno_ == errno.ELOOP:  # "no such file" would send the user looking for a file that is there
                _fail(error, f"{given}: a symbolic link loop (too many levels of symbolic links, ELOOP)",
                      f"point the link at the library itself (`ls -l {given}` shows where it leads)")
            else:
                _fail(error, f"{given}: {os.strerror(errno_).lower()}", "check the path (and --root)")
            report.files.append(error)
            continue
        host = fs.host(real)
        if host.is_dir():
            for mac_file, shown in _walk(fs, real, report):
                add(mac_file, shown)
            continue
        problem = _unopenable(host)
        if problem is not None:  # a FIFO (which open() would wait on for ever), a device, an unreadable file
            error = FileReport(path=given, mac_path=real)
            _fail(error, f"{given}: {problem[0]}", problem[1])
            report.files.append(error)
            continue
        kind = _loadable(fs, real)
        if kind is not True and kind != "malformed":
            error = FileReport(path=given, mac_path=real)
            _fail(error, f"{given}: {kind}", "name a Mach-O executable, dylib or bundle, or a directory")
            report.files.append(error)
            continue
        add(real, given)
    return out


def _walk(fs: Root, mac_dir: str, report: FixReport) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(fs.host(mac_dir)):  # does not enter symlinked directories
        dirnames.sort()
        for name in sorted(filenames):
            host = Path(dirpath) / name
            if host.is_symlink():
                # Its target is treated where it lies (if inside the walk); editing through links invites doubles.
                report.skipped.append({"path": str(host), "why": "symbolic link"})
                continue
            mac = fs.to_mac(host)
            problem = _unopenable(host)
            if problem is not None and problem[0].startswith(UNREADABLE):
                # A library the walk cannot read may be one that needs fixing: an error (exit 2), not a skip.
                error = FileReport(path=str(host), mac_path=mac)
                _fail(error, f"{host}: {problem[0]}", problem[1])
                report.files.append(error)
                continue
            if problem is not None:
                report.skipped.append({"path": str(host), "why": problem[0]})
                continue
            kind = _loadable(fs, mac)
            # A Mach-O magic with a broken body is an error even in a walk; other files are skipped with a note.
            if kind is True or kind == "malformed":
                found.append((mac, str(host)))
            else:
                report.skipped.append({"path": str(host), "why": kind})
    return found


UNREADABLE = "cannot read"


def _unopenable(host: Path) -> tuple[str, str] | None:
    """(why, fix) when `host` cannot be read as a regular file, checked without blocking; None when it can."""
    try:
        with open_regular(host):
            return None
    except NotRegularFile as exc:
        return exc.kind, "name a Mach-O executable, dylib or bundle, or a directory"
    except OSError as exc:
        return f"{UNREADABLE}: {exc.strerror or exc}", "make the file readable (chmod u+r), or run as a user who can"


def _loadable(fs: Root, mac_real: str) -> bool | str:
    """True for a Mach-O file dyld loads; else why not ("malformed" when only its magic is right)."""
    if sniff(fs.host(mac_real)) is None:
        return "not a Mach-O file"
    image = fs.image(mac_real)
    if isinstance(image, MachOError):
        return "malformed"
    if image.filetype not in LOADABLE_FILETYPES:
        return "a Mach-O file dyld does not load (object, dSYM, kext ...)"
    return True


def _failures(checks: list[ImageCheck]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for c in checks:
        for r in c.failing:
            out.append({"arch": c.arch, "loaded_by": c.image, **r.to_dict()})
        for loader, r in c.failing_transitive:
            out.append({"arch": c.arch, "loaded_by": loader, **r.to_dict()})
    return out


def _references(checks: list[ImageCheck]) -> list[dict[str, object]]:
    """Every direct reference of every slice with where dyld finds it (planned state in check mode)."""
    return [
        {"arch": c.arch, "name": r.name, "kind": r.kind, "status": r.status, "path": r.path, "via": r.via}
        for c in checks
        for r in c.direct
    ]


def _find(fs: Root, trailing: str, cputype: int, search: list[str]) -> tuple[str, str] | list[str]:
    """(search dir, Mac path) of the first search directory holding a usable dylib at `trailing`; else why not."""
    why: list[str] = []
    for directory in search:
        candidate = posixpath.join(directory, trailing)
        real, reason = fs.usable_dylib(candidate, cputype)
        if real is not None:
            return directory, candidate
        why.append(f"{candidate}: {reason}")
    return why


def _plan(
    fs: Root,
    image: MachOFile,
    checks: list[ImageCheck],
    search: list[str],
    mode: str,
    file_report: FileReport,
) -> dict[int, SliceEdit]:
    edits: dict[int, SliceEdit] = {}
    actions: dict[tuple[str, str, str | None], Action] = {}

    def record(kind: str, value: str, old: str | None, arch: str, fixes: str) -> None:
        action = actions.setdefault((kind, value, old), Action(kind, value, old))
        if arch not in action.archs:
            action.archs.append(arch)
        if fixes not in action.fixes:
            action.fixes.append(fixes)

    for index, (sl, c) in enumerate(zip(image.slices, checks, strict=True)):
        edit = edits.setdefault(index, SliceEdit())
        # Direct references: missing required ones, and missing weak ones that a search directory holds.
        for ref, res in zip(sl.deps, c.direct, strict=True):
            if res.status != "missing":
                continue
            _plan_one(fs, sl, edit, ref.index, res, search, mode, file_report, record, direct=True)
        for loader, res in c.failing_transitive:
            _plan_one(fs, sl, edit, None, res, search, mode, file_report, record, direct=False, loader=loader)
    file_report.actions = list(actions.values())
    return edits


def _plan_one(
    fs: Root,
    sl: Slice,
    edit: SliceEdit,
    cmd_index: int | None,
    res: Resolution,
    search: list[str],
    mode: str,
    file_report: FileReport,
    record: Callable[[str, str, str | None, str, str], None],
    direct: bool,
    loader: str | None = None,
) -> None:
    is_rpath = res.name.startswith("@rpath/")
    trailing = res.name[len("@rpath/") :] if is_rpath else posixpath.basename(res.name)
    hit = _find(fs, trailing, sl.cputype, search)
    if isinstance(hit, list):
        if res.required:
            file_report.notes.append(
                f"{res.name} ({sl.arch}) is in no search directory ({'; '.join(hit)}); add --search DIR"
            )
        return
    directory, found = hit
    if is_rpath and mode == "rpath":
        if directory in sl.rpaths:
            # Already there, yet the library was not found through it: a second identical LC_RPATH would change
            # nothing (install_name_tool refuses it too: "would duplicate path").
            file_report.notes.append(f"{res.name} ({sl.arch}): LC_RPATH {directory} is present already")
            return
        if directory not in edit.add_rpaths:
            edit.add_rpaths.append(directory)
        record("add_rpath", directory, None, sl.arch, res.name)
    elif direct and cmd_index is not None:
        edit.rename[cmd_index] = found
        record("change", found, res.name, sl.arch, res.name)
    else:
        file_report.notes.append(
            f"{res.name}, needed by {loader} ({sl.arch}), can only be fixed in that file or with --mode rpath"
        )


def _simulate(image: MachOFile, edits: dict[int, SliceEdit]) -> MachOFile:
    """The MachOFile as it will read after the edits (for verifying a plan before writing it)."""
    slices = []
    for index, sl in enumerate(image.slices):
        edit = edits.get(index)
        if not edit:
            slices.append(sl)
            continue
        deps = tuple(
            dataclasses.replace(d, name=edit.rename[d.index]) if d.index in edit.rename else d for d in sl.deps
        )
        slices.append(dataclasses.replace(sl, deps=deps, rpaths=sl.rpaths + tuple(edit.add_rpaths)))
    return dataclasses.replace(image, slices=tuple(slices))


def _resign(host: Path) -> str:
    """Re-sign ad hoc where codesign exists (a Mac); else say what to run. Editing load commands breaks it."""
    codesign = shutil.which("codesign")
    command = f"codesign --force --sign - {host}"
    if codesign is None:
        return f"code signature is now invalid (no codesign here); on the Mac run: {command}"
    proc = subprocess.run([codesign, "--force", "--sign", "-", str(host)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return f"code signature is now invalid; `{command}` failed: {proc.stderr.strip()}"
    return "re-signed ad hoc (codesign --force --sign -)"
