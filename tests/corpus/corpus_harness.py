"""The bad-input corpus' harness (issue 11, point 8): one case = argv for `python -m egpu_setup`, an optional setup
of files in a fresh directory, the exit code and message fragments the contract promises, and the trees that must
come out unchanged.

Every case is run as a real subprocess (real tracebacks, real exit codes, real stdin: /dev/null, no controlling
terminal) and asserts: the exit code; for a refusal an `error:` line, a `fix:` line and the case's fragments; no
"Traceback" and no "Exception ignored" anywhere; the digests of its trees (kinds, modes, link targets, contents; a
FIFO is never opened) equal before and after; and an end within TIMEOUT seconds (a hang is a failure).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TIMEOUT = 60.0  # seconds; every case ends far sooner, so reaching this is a hang
QUICK = 10.0  # a refusal comes at once: before Ansible runs, a lab starts or a check runs
FIFO_WAIT = 8.0  # a FIFO must be refused at once (a read of one blocks for ever)
# Ansible's own scratch under HOME (~/.ansible/tmp): made by merely importing Ansible, not by egpu-setup.
IGNORED = ("home/.ansible",)
# As root, mode 000 files are still readable; the cases run without the capabilities that let root ignore modes,
# as a user would (setpriv drops them from the bounding set before exec).
DROP_ROOT = (
    ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    if os.geteuid() == 0 and shutil.which("setpriv")
    else []
)


@dataclass(frozen=True)
class Where:
    """The directories of one case: `root` (digested whole) holds the cwd, HOME and the XDG directories."""

    root: Path
    lab: Path | None = None  # the module's rehearsal lab, for the cases that use one

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    def sub(self, text: str) -> str:
        text = text.replace("{t}", str(self.root)).replace("{cwd}", str(self.cwd))
        return text.replace("{lab}", str(self.lab)) if self.lab is not None else text


Setup = Callable[[Where], None]


@dataclass(frozen=True)
class Case:
    """One bad input. `argv` and `env` values may name {t} (the case's directory), {cwd} and {lab}."""

    name: str
    argv: tuple[str, ...]
    code: int = 2
    expect: tuple[str, ...] = ()  # fragments of stderr (case-insensitive, whitespace folded)
    setup: Setup | None = None
    env: dict[str, str] = field(default_factory=dict)
    xfail: str | None = None  # "issue 11 part X: what is wrong today"
    refusal: bool = True  # an `error:` and a `fix:` line expected (False for the cases that must succeed)
    extra_trees: tuple[str, ...] = ()  # more trees to digest, e.g. "{lab}"
    drop_root: bool = True  # run without root's file-mode override (False where bubblewrap needs it)
    timeout: float = QUICK
    # the run records (<XDG_DATA_HOME>/egpu-setup/runs) of the cases that Ansible itself must refuse (a role's
    # argument_specs): such a run has started, and its log is where the refusal is recorded; the refusal is then
    # told as the host's failure (`HOST: failed: TASK`, the message, an indented `fix:`), not as an `error:` line
    keeps_run_record: bool = False
    # paths (relative to the case's directory) where new entries may appear, existing ones never changing: what a
    # failed download keeps on purpose for the next run to resume (<cache>/partial)
    may_add: tuple[str, ...] = ()

    def param(self) -> object:
        marks = [pytest.mark.xfail(strict=True, reason=self.xfail)] if self.xfail else []
        return pytest.param(self, id=self.name, marks=marks)


def params(cases: Iterable[Case]) -> list[object]:
    cases = list(cases)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return [c.param() for c in cases]


# --- digests ---------------------------------------------------------------------------------------------------------


def tree_digest(top: Path, ignored: tuple[str, ...] = IGNORED, skip: Callable[[str], bool] | None = None) -> dict:
    """path -> kind, mode, link target or content digest, for `top` and everything under it (links not followed,
    FIFOs and devices never opened). A missing `top` is recorded as such, so a command that creates it shows."""
    out: dict[str, str] = {}
    if not os.path.lexists(top):
        return {".": "absent"}
    for dirpath, dirnames, filenames in os.walk(top):
        rel_dir = os.path.relpath(dirpath, top)
        kept = []
        for d in sorted(dirnames):
            rel = os.path.normpath(os.path.join(rel_dir, d))
            if rel not in ignored and not (skip and skip(rel)):
                kept.append(d)
            if os.path.islink(os.path.join(dirpath, d)):
                out[rel] = _entry(os.path.join(dirpath, d))
        dirnames[:] = [d for d in kept if not os.path.islink(os.path.join(dirpath, d))]
        out[os.path.normpath(rel_dir)] = _entry(dirpath)
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if not (skip and skip(rel)):
                out[rel] = _entry(os.path.join(dirpath, name))
    return out


def _entry(path: str) -> str:
    info = os.lstat(path)
    mode = f"{stat.S_IMODE(info.st_mode):o}"
    if stat.S_ISLNK(info.st_mode):
        return f"l {mode} -> {os.readlink(path)}"
    if stat.S_ISDIR(info.st_mode):
        return f"d {mode}"
    if stat.S_ISREG(info.st_mode):
        with open(path, "rb") as f:
            return f"f {mode} {hashlib.file_digest(f, 'sha256').hexdigest()}"
    return f"{'p' if stat.S_ISFIFO(info.st_mode) else 'other'} {mode}"


def changes(before: dict, after: dict) -> list[str]:
    keys = sorted(set(before) | set(after))
    return [f"{k}: {before.get(k, 'absent')} -> {after.get(k, 'absent')}"
            for k in keys if before.get(k) != after.get(k)]


# --- running ---------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str


def case_env(where: Where, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: HOME and the XDG directories inside the case's tree, no EGPU_* from the caller."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(where.root / "home"),
        "XDG_CACHE_HOME": str(where.root / "xdg-cache"),
        "XDG_DATA_HOME": str(where.root / "xdg-data"),
        "XDG_CONFIG_HOME": str(where.root / "xdg-config"),
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "COLUMNS": "400",  # no wrapped messages: fragments are matched on one line
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # The lab's compiler cache (a rehearsal Mac's toolchain makes it on connecting) is the suite's shared one, outside
    # the case's tree: it is the lab's scratch, not a change the refused command made.
    from egpu_lab.macho_build import zig_cache_dir

    env["ZIG_GLOBAL_CACHE_DIR"] = str(zig_cache_dir())
    env.update({k: where.sub(v) for k, v in extra.items()})
    return env


def run_cli(argv: list[str], where: Where, env: dict[str, str], drop_root: bool, timeout: float) -> Result:
    """`python -m egpu_setup ARGV` in the case's cwd, stdin /dev/null, in a session of its own (no terminal);
    a run past TIMEOUT is killed with its process group and fails the case as a hang."""
    prefix = DROP_ROOT if drop_root else []
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "egpu_setup", *argv],
        cwd=where.cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"hang: no end within {timeout:.0f} s: egpu-setup {' '.join(argv)}\nstderr: {err[-2000:]}")
    return Result(proc.returncode, out, err)


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).lower()


def check_case(case: Case, where: Where) -> Result:
    """Set up, digest, run, and assert the contract (see the module's docstring)."""
    for d in ("cwd", "home", "xdg-cache", "xdg-data"):
        (where.root / d).mkdir(parents=True, exist_ok=True)
    if case.setup is not None:
        case.setup(where)
    trees = [where.root, *(Path(where.sub(t)) for t in case.extra_trees)]
    own = _run_record if case.keeps_run_record else None
    before = [tree_digest(t, skip=_lab_volatile if t != where.root else own) for t in trees]
    argv = [where.sub(a) for a in case.argv]
    result = run_cli(argv, where, case_env(where, case.env), case.drop_root, case.timeout)
    after = [tree_digest(t, skip=_lab_volatile if t != where.root else own) for t in trees]
    shown = f"egpu-setup {' '.join(argv)}\nexit {result.code}\nstdout: {result.out[-1500:]}"
    shown += f"\nstderr: {result.err[-3000:]}"
    for stream in (result.out, result.err):
        assert "Traceback" not in stream, f"traceback\n{shown}"
        assert "Exception ignored" not in stream, f"exception ignored\n{shown}"
    for tree, b, a in zip(trees, before, after, strict=True):
        changed = [c for c in changes(b, a) if not (tree == where.root and _added_where_allowed(c, b, case.may_add))]
        assert not changed, f"{tree} changed:\n" + "\n".join(changed[:20]) + f"\n{shown}"
    assert result.code == case.code, f"exit {result.code}, expected {case.code}\n{shown}"
    err = fold(result.err)
    if case.refusal:
        assert _told(result.err, case.keeps_run_record), f"no `error:` line\n{shown}"
        fixes = [line.strip() if case.keeps_run_record else line for line in result.err.splitlines()]
        assert any(line.startswith("fix: ") and len(line) > 10 for line in fixes), f"no `fix:` line\n{shown}"
    for fragment in case.expect:
        assert fold(where.sub(fragment)) in err, f"{fragment!r} not in stderr\n{shown}"
    return result


def _added_where_allowed(change: str, before: dict, allowed: tuple[str, ...]) -> bool:
    rel = change.split(": ", 1)[0]
    return rel not in before and any(rel == top or rel.startswith(top + "/") for top in allowed)


def _told(err: str, in_run: bool) -> bool:
    """An `error:` line; or, for a refusal inside a run (a role's argument check, preflight), the host's failure as the
    run reports it: `[m:ss] HOST: failed: TASK`, the message and an indented `fix:` below it."""
    lines = err.splitlines()
    if any(line.startswith("error: ") for line in lines):
        return True
    return in_run and any(re.match(r"(\[\d+:\d\d\] )?\S+: failed: ", line) for line in lines)


# Inside a rehearsal lab, what a connection writes that is no state of the Mac (as tests/conftest.py's VOLATILE),
# the lab's scratch directory, and what reaching a Mac over SSH leaves in the lab: ssh's ControlPersist sockets
# (ssh/cp) and the logs of the Macs' sshd and their supervisor, which log each connection as a Mac's sshd does.
_LAB_VOLATILE = re.compile(
    r"^(work(/|$)|hosts/[^/]+/root/(\.rehearsal|dev|proc|private/tmp|Users/admin/\.ansible|private/var/root/\.ansible)"
    r"(/|$)|hosts/[^/]+/machine/[^/]*\.lock$|ssh/cp(/|$)|ssh/([^/]+/)?[^/]+\.log$)"
)


def _run_record(rel: str) -> bool:
    return rel == "xdg-data/egpu-setup" or rel.startswith("xdg-data/egpu-setup/runs")


def _lab_volatile(rel: str) -> bool:
    return bool(_LAB_VOLATILE.match(rel))


# --- setups ----------------------------------------------------------------------------------------------------------


def files(**contents: str | bytes) -> Setup:
    """Files under the case's directory: `files(**{"inv/inventory.yml": "..."})`; values may name {t}."""

    def make(where: Where) -> None:
        for rel, content in contents.items():
            path = where.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(where.sub(content))

    return make


def fifo(rel: str) -> Setup:
    def make(where: Where) -> None:
        path = where.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)

    return make


def symlink(rel: str, target: str) -> Setup:
    def make(where: Where) -> None:
        path = where.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(where.sub(target))

    return make


def mode(rel: str, bits: int) -> Setup:
    def make(where: Where) -> None:
        (where.root / rel).chmod(bits)

    return make


def dirs(*rels: str) -> Setup:
    def make(where: Where) -> None:
        for rel in rels:
            (where.root / rel).mkdir(parents=True, exist_ok=True)

    return make


def all_of(*steps: Setup) -> Setup:
    def make(where: Where) -> None:
        for step in steps:
            step(where)

    return make


GARBAGE = bytes(range(256)) * 4  # binary: no text, no YAML, no JSON, no Mach-O
USER_INVENTORY = {
    "inv/inventory.yml": "all:\n  hosts:\n    mac-01:\n      ansible_host: 192.0.2.10\n",
    "inv/group_vars/all.yml": "# the user's own settings\negpu_profile: default\n",
}
