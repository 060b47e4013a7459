"""The provisioning journal on the target: what existed before, so rollback restores it byte for byte.

Controller-side (used by action plugins through target_shell). Layout under the state directory (default
/var/db/egpu-setup), one tab-separated record a line in `journal.tsv`, first record of a path wins:

    added   PATH              PATH did not exist; rollback removes it (and everything under it), newest first
    backup  SHA256  PATH      PATH was this file; its bytes are in files/SHA256; rollback copies them back
    link    TARGET  PATH      PATH was a symbolic link to TARGET
    tree    LISTING PATH      PATH was a directory whose entries are listed in trees/LISTING; rollback removes
                              entries that are not in the listing (its files are also `backup`/`link` records)
    receipt ID                provisioning installed package ID; rollback forgets its receipt
    nvram   NAME  STATE VALUE the variable before provisioning (STATE absent|present, VALUE as nvram printed it)
    mode    OCTAL  PATH       PATH was an existing directory with this mode (a package's payload names it)
    undo    COMMAND           state outside the file system (e.g. `xcode-select --switch OLD`); rollback runs these
                              newest first, after the files are back

The journal only grows; rollback replays it backwards and removes the state directory.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils.target_shell import (
    TargetCommandError,
    parse_sectioned,
    quote,
    run,
    sectioned,
)

JOURNAL = "journal.tsv"


@dataclass
class JournalRecords:
    added: list[str] = field(default_factory=list)
    backups: dict[str, str] = field(default_factory=dict)  # path -> sha256
    links: dict[str, str] = field(default_factory=dict)  # path -> link target
    trees: dict[str, str] = field(default_factory=dict)  # path -> listing file name
    receipts: list[str] = field(default_factory=list)
    nvram: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (state, value)
    undo: list[str] = field(default_factory=list)
    modes: dict[str, str] = field(default_factory=dict)  # existing directory -> its octal mode

    def covers(self, path: str) -> bool:
        """True when rollback already knows how to bring PATH back (it, or a directory above it, is recorded)."""
        if path in self.backups or path in self.links or path in self.trees:
            return True
        probe = path
        while True:
            if probe in self.added or probe in self.trees:
                return True
            parent = posixpath.dirname(probe)
            if parent == probe:
                return False
            probe = parent


def parse_journal(text: str) -> JournalRecords:
    records = JournalRecords()
    for line in text.splitlines():
        parts = line.split("\t")
        kind = parts[0]
        if kind == "added" and len(parts) == 2:
            records.added.append(parts[1])
        elif kind == "backup" and len(parts) == 3:
            records.backups.setdefault(parts[2], parts[1])
        elif kind == "link" and len(parts) == 3:
            records.links.setdefault(parts[2], parts[1])
        elif kind == "tree" and len(parts) == 3:
            records.trees.setdefault(parts[2], parts[1])
        elif kind == "receipt" and len(parts) == 2:
            records.receipts.append(parts[1])
        elif kind == "mode" and len(parts) == 3:
            records.modes.setdefault(parts[2], parts[1])
        elif kind == "undo" and len(parts) >= 2:
            records.undo.append("\t".join(parts[1:]))
        elif kind == "nvram" and len(parts) >= 3:
            records.nvram.setdefault(parts[1], (parts[2], parts[3] if len(parts) > 3 else ""))
    return records


def _cat_journal(state_dir: str) -> str:
    """sh that prints the journal, nothing when there is none yet."""
    return f"cat {quote(posixpath.join(state_dir, JOURNAL))} 2>/dev/null; true"


def read_journal(action: Any, state_dir: str) -> JournalRecords:
    _, out, _ = run(action, _cat_journal(state_dir), what="reading the journal")
    return parse_journal(out)


def _ancestors(path: str) -> list[str]:
    out = []
    probe = posixpath.dirname(path)
    while probe not in ("/", ""):
        out.append(probe)
        probe = posixpath.dirname(probe)
    return out


_PROBE_ONE = (
    'p={p}; if [ -L "$p" ]; then printf "L\\t%s\\t%s\\n" "$p" "$(readlink "$p")"; '
    'elif [ -f "$p" ]; then printf "F\\t%s\\n" "$p"; '
    'elif [ -d "$p" ]; then printf "D\\t%s\\t%s\\n" "$p" "$(ls -ld "$p" | cut -c1-10)"; '
    'else printf "M\\t%s\\n" "$p"; fi'
)
_PROBE_TREE = (
    "find {p} -mindepth 1 | while IFS= read -r f; do "
    'if [ -L "$f" ]; then printf "TL\\t%s\\t%s\\n" "$f" "$(readlink "$f")"; '
    'elif [ -f "$f" ]; then printf "TF\\t%s\\n" "$f"; else printf "TD\\t%s\\n" "$f"; fi; done'
)


def ls_mode(text: str) -> int | None:
    """`drwxr-xr-x` (the first column of `ls -ld`) -> 0o755, with setuid/setgid/sticky; None if unreadable."""
    if len(text) < 10:
        return None
    # A permission bit is set for r/w/x, and for s/t (the bit plus setuid/setgid/sticky); S/T are without x.
    mode = sum(1 << (8 - i) for i, ch in enumerate(text[1:10]) if ch not in "-ST")
    special = {3: 0o4000, 6: 0o2000, 9: 0o1000}
    for pos, bit in special.items():
        if text[pos] in "sStT":
            mode |= bit
    return mode


def plan_tracking(
    action: Any, state_dir: str, paths: list[str], trees: bool = True
) -> tuple[list[str], dict[str, Any]]:
    """Probe the target and return (records to append, summary) for the paths rollback does not know yet.

    With `trees`, an existing directory is recorded with its listing and the copies of its files; without (a
    package's payload, which names every directory it puts files in, /usr and /Library included), existing
    directories are left alone: the payload's files in them are recorded one by one.
    """
    records, kinds = _read_and_probe(action, state_dir, paths)
    wanted = _untracked(records, paths, trees)
    plan = _TrackingPlan(records)
    if not wanted:
        return plan.lines, plan.summary
    tree_roots = [p for p in wanted if kinds.get(p, ("M", ""))[0] == "D"] if trees else []
    tree_entries = _probe_trees(action, tree_roots)
    for path in wanted:
        kind, extra = kinds.get(path, ("M", ""))
        if kind == "M":
            plan.missing(path, kinds)
        elif kind == "L":
            plan.lines.append(f"link\t{extra}\t{path}")
        elif kind == "F":
            plan.backup(path)
        elif kind == "D":
            plan.mode(path, extra)
            if trees:
                plan.tree(path, tree_entries.get(path, []))
    return plan.lines, plan.summary


def _untracked(records: JournalRecords, paths: list[str], trees: bool) -> list[str]:
    """The normalised paths, once each, that the journal does not cover yet (nor, without trees, has a mode of)."""
    wanted = [posixpath.normpath(p) for p in paths if p]
    return [p for p in dict.fromkeys(wanted) if not records.covers(p) and (trees or p not in records.modes)]


def _read_and_probe(
    action: Any, state_dir: str, paths: list[str]
) -> tuple[JournalRecords, dict[str, tuple[str, str]]]:
    """The journal, and what each path and its ancestors are, in one round trip: path -> (M missing | F file |
    L link | D directory, link target or `ls -ld` mode). Paths the journal covers already are probed too: that
    costs a few tests in the same sh, where asking only for the others would cost a second round trip."""
    normal = [posixpath.normpath(p) for p in paths if p]
    probes = dict.fromkeys(a for p in normal for a in [p, *_ancestors(p)])
    script = sectioned(
        {
            "journal": _cat_journal(state_dir),
            "kinds": "\n".join(_PROBE_ONE.format(p=quote(p)) for p in probes) or "true",
        }
    )
    _, out, _ = run(action, script, what="reading the journal and probing paths")
    sections = parse_sectioned(out)
    if set(sections) != {"journal", "kinds"}:
        raise TargetCommandError("reading the journal and probing paths: the Mac's answer was cut short", script, 1)
    kinds: dict[str, tuple[str, str]] = {}
    for line in sections["kinds"][1].splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            kinds[parts[1]] = (parts[0], parts[2] if len(parts) > 2 else "")
    return parse_journal(sections["journal"][1]), kinds


def _probe_trees(action: Any, roots: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    """Root -> its entries as (TL link | TF file | TD directory, path, link target), in one round trip."""
    entries: dict[str, list[tuple[str, str, str]]] = {root: [] for root in roots}
    if not roots:
        return entries
    _, out, _ = run(action, "\n".join(_PROBE_TREE.format(p=quote(p)) for p in roots), what="listing trees")
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        root = next((r for r in roots if parts[1].startswith(r.rstrip("/") + "/")), None)
        if root is not None:
            entries[root].append((parts[0], parts[1], parts[2] if len(parts) > 2 else ""))
    return entries


@dataclass
class _TrackingPlan:
    """The journal lines planned so far and their summary, one method per kind of path found."""

    records: JournalRecords
    lines: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=lambda: {"added": [], "backed_up": [], "trees": []})
    new_added: set[str] = field(default_factory=set)

    def missing(self, path: str, kinds: dict[str, tuple[str, str]]) -> None:
        # Record the topmost missing directory: everything below it is new as well.
        top = path
        for anc in _ancestors(path):
            if kinds.get(anc, ("D", ""))[0] == "M":
                top = anc
        if top not in self.new_added and not self.records.covers(top):
            self.new_added.add(top)
            self.lines.append(f"added\t{top}")
            self.summary["added"].append(top)

    def backup(self, path: str) -> None:
        self.lines.append(f"backup\t@\t{path}")
        self.summary["backed_up"].append(path)

    def mode(self, path: str, ls_text: str) -> None:
        mode = ls_mode(ls_text)
        if mode is not None:
            self.lines.append(f"mode\t{mode:04o}\t{path}")

    def tree(self, path: str, entries: list[tuple[str, str, str]]) -> None:
        """The directory's listing, then its links and files that the journal does not cover yet."""
        listing = hashlib.sha256(path.encode()).hexdigest()[:16]
        names = [entry for _, entry, _ in entries]
        self.lines.append(f"tree\t{listing}\t{path}\t" + "\n".join(names))
        self.summary["trees"].append(path)
        for kind, entry, target in entries:
            if self.records.covers(entry) and entry != path:
                continue
            if kind == "TL":
                self.lines.append(f"link\t{target}\t{entry}")
            elif kind == "TF":
                self.backup(entry)


def apply_tracking(action: Any, state_dir: str, lines: list[str]) -> None:
    """Write the planned records: copy backed-up files into files/<sha256> and append the journal lines."""
    if not lines:
        return
    journal = quote(posixpath.join(state_dir, JOURNAL))
    files = posixpath.join(state_dir, "files")
    trees = posixpath.join(state_dir, "trees")
    script = [f"set -e; umask 077; mkdir -p {quote(files)} {quote(trees)}"]
    for line in lines:
        kind = line.split("\t", 1)[0]
        if kind == "backup":
            path = line.split("\t")[2]
            script.append(
                f"set -- $(sha256sum_of {quote(path)}); cp -p {quote(path)} {quote(files)}/$1; "
                f'printf "backup\\t%s\\t%s\\n" "$1" {quote(path)} >> {journal}'
            )
        elif kind == "tree":
            _, listing, path, names = line.split("\t", 3)
            script.append(f"printf '%s\\n' {quote(names)} > {quote(trees)}/{listing}")
            script.append(f"printf '%s\\n' {quote(f'tree	{listing}	{path}')} >> {journal}")
        else:
            script.append(f"printf '%s\\n' {quote(line)} >> {journal}")
    run(action, "\n".join(script), what="recording backups")


def track(action: Any, state_dir: str, paths: list[str], check_mode: bool, trees: bool = True) -> dict[str, Any]:
    """Make sure rollback can bring every path back; returns {changed, added, backed_up, trees}."""
    lines, summary = plan_tracking(action, state_dir, paths, trees)
    if lines and not check_mode:
        apply_tracking(action, state_dir, lines)
    return {"changed": bool(lines), **summary}


def record(action: Any, state_dir: str, line: str, check_mode: bool) -> None:
    """Append one record (receipt, nvram) unless check mode."""
    if check_mode:
        return
    journal = quote(posixpath.join(state_dir, JOURNAL))
    run(action, f"umask 077; mkdir -p {quote(state_dir)}; printf '%s\\n' {quote(line)} >> {journal}", what="journal")


def _tree_extras(action: Any, state_dir: str, trees: dict[str, str]) -> list[str]:
    """Entries under each recorded directory that were not in its listing, deepest first."""
    extras: list[str] = []
    for root, listing in trees.items():
        _, kept, _ = run(action, f"cat {quote(posixpath.join(state_dir, 'trees', listing))}", what="reading a listing")
        _, now, _ = run(action, f"[ -d {quote(root)} ] && find {quote(root)} -mindepth 1; true", what="listing")
        known = set(kept.splitlines())
        extras += [p for p in now.splitlines() if p and p not in known]
    return sorted(set(extras), key=lambda p: (-p.count("/"), p))


def kept(path: str, keep: list[str]) -> bool:
    """PATH is KEEP, below it, or above it (removing it would remove KEEP); a KEEP ending in `*` matches by string
    prefix (`.../org.python.*`)."""
    for k in keep:
        if k.endswith("*"):
            if path.startswith(k[:-1]) or k[:-1].startswith(path.rstrip("/") + "/"):
                return True
        elif path == k or path.startswith(k.rstrip("/") + "/") or k.startswith(path.rstrip("/") + "/"):
            return True
    return False


def _line_subject(line: str) -> str:
    """The path (or receipt plist) a journal line is about; '' for NVRAM and undo lines."""
    parts = line.split("\t")
    if parts[0] == "added" and len(parts) == 2:
        return parts[1]
    if parts[0] in ("backup", "link", "tree", "mode") and len(parts) == 3:
        return parts[2]
    if parts[0] == "receipt" and len(parts) == 2:
        return f"/private/var/db/receipts/{parts[1]}.plist"
    return ""


def restore_all(action: Any, state_dir: str, check_mode: bool, keep: list[str] | None = None) -> dict[str, Any] | None:
    """Undo every record of the journal; None when there is no journal. See the module docstring for the order.

    Records about paths under `keep` stay for a later call (rollback keeps Python 3 and the tools until the
    restart that needs them); the journal then holds just those. Without them left, the journal is removed - only
    when every restored file hashes to its backup; otherwise `mismatched` lists them.
    """
    path = quote(posixpath.join(state_dir, JOURNAL))
    rc, text, _ = run(action, f"[ -f {path} ] && cat {path}", check_rc=False)
    if rc != 0:
        return None
    keep = keep or []
    retained = [ln for ln in text.splitlines() if (subject := _line_subject(ln)) and kept(subject, keep)]
    records = parse_journal("\n".join(ln for ln in text.splitlines() if ln not in set(retained)))
    extras = _tree_extras(action, state_dir, records.trees)
    summary: dict[str, Any] = {
        "forgotten": list(reversed(records.receipts)),
        "nvram": {name: value for name, (state, value) in records.nvram.items() if state == "present"},
        "nvram_removed": [name for name, (state, _) in records.nvram.items() if state == "absent"],
        "removed": list(reversed(records.added)) + extras,
        "restored": sorted(records.backups),
        "relinked": sorted(records.links),
        "undone": list(reversed(records.undo)),
        "mismatched": [],
        "kept": [_line_subject(ln) for ln in retained],
    }
    if check_mode:
        return summary
    files = posixpath.join(state_dir, "files")
    script = [f"pkgutil --forget {quote(r)} >/dev/null 2>&1 || true" for r in summary["forgotten"]]
    script += [f"nvram {quote(n + '=' + v)}" for n, v in summary["nvram"].items()]
    script += [f"nvram -d {quote(n)}" for n in summary["nvram_removed"]]
    script += [f"rm -rf {quote(p)}" for p in summary["removed"]]
    for path, digest in records.backups.items():
        script.append(
            f"if [ -d {quote(path)} ] && [ ! -L {quote(path)} ]; then rm -rf {quote(path)}; fi; "
            f"mkdir -p {quote(posixpath.dirname(path))} && "
            f"cp -p {quote(posixpath.join(files, digest))} {quote(path)}"
        )
    for path, target in records.links.items():
        script.append(
            f"rm -rf {quote(path)}; mkdir -p {quote(posixpath.dirname(path))} && ln -s {quote(target)} {quote(path)}"
        )
    script += [f"chmod {mode} {quote(path)} 2>/dev/null || true" for path, mode in records.modes.items()]
    script += summary["undone"]
    run(action, "set -e\n" + "\n".join(script), what="restoring the pre-provisioning state")
    summary["mismatched"] = _mismatched(action, records.backups)
    if summary["mismatched"]:
        return summary
    if retained:
        body = "".join(f"{ln}\n" for ln in retained)
        run(action, f"printf '%s' {quote(body)} > {path}", what="keeping the rest of the journal")
    else:
        run(action, f"rm -rf {quote(state_dir)}", what="removing the journal")
    return summary


def _mismatched(action: Any, backups: dict[str, str]) -> list[str]:
    if not backups:
        return []
    script = "".join(f'printf "%s\\t%s\\n" "$(sha256sum_of {quote(p)} | cut -c1-64)" {quote(p)}; ' for p in backups)
    _, out, _ = run(action, script, check_rc=False)
    got = {}
    for line in out.splitlines():
        digest, _, path = line.partition("\t")
        got[path] = digest.lower()
    return [p for p, d in backups.items() if got.get(p) != d]
