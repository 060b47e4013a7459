"""Coverage list: which macOS commands the roles and the collection call, and whether a rehearsal host has them.

    python -m egpu_lab.coverage [--root REPO] [--json]

Scans the collections' roles, `ansible_collections/*/*/roles/**/*.yml` (`cmd:` values and `raw` tasks), and
`ansible_collections/**/plugins/**/*.py` (absolute command paths in strings), and sorts every command found
into: imitated (a shim of egpu_lab.macos), Linux tool (linked from the hidden runtime, see
image.LINUX_TOOLS), installed (a path that a role installs, e.g. /usr/local/bin/python3), or missing (a rehearsal
host answers `command not found`). It reads the code as text: a heuristic that finds the commands written out
literally.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from egpu_lab import image

ABSOLUTE = re.compile(r"""["'\s(=](/(?:usr/(?:local/)?)?(?:s?bin|libexec)/[A-Za-z0-9_.+-]+)""")
CMD_LINE = re.compile(r"^\s*(?:cmd|ansible\.builtin\.raw|raw|ansible\.builtin\.command|command|shell):\s*(.*)$")
SHELL_WORDS = {"if", "then", "else", "fi", "for", "do", "done", "set", "test", "[", "cd", "export", "exec", "case",
               "esac", "while", "until", "in", "command", "return", "exit", "true", "false", "echo", "printf",
               "read", "local", "shift", "trap", "umask", ">-", "|", "|-", ">"}  # fmt: skip
# Commands under these prefixes come with what the roles install (Python 3, CUDA), not with the bare host.
INSTALLED_BY_ROLES = ("/usr/local/", "/Developer/", "/Library/")
# macOS commands a role might reach for that the lab does not imitate: found in the collection's code by name.
NOT_IMITATED = ("diskutil", "launchctl", "defaults", "softwareupdate", "spctl", "codesign", "ditto", "xattr",
                "chflags", "systemsetup", "scutil", "mdls", "kmutil", "bless", "pmset", "dscl", "lsbom",
                "mkbom", "xar")  # fmt: skip
MENTION = re.compile(r"""(?:C\(|["'`])([a-z][A-Za-z0-9_.+-]*)[ )"'`]""")
WORD = re.compile(r"^[A-Za-z][A-Za-z0-9_.+-]*$")


def _first_words(text: str) -> set[str]:
    """Command names at the start of each simple command of a shell snippet (Jinja stripped)."""
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "@", text, flags=re.S)
    found = set()
    for part in re.split(r"[;&|\n]+|\$\(|`", text):
        words = part.strip().split()
        while words and ("=" in words[0] or words[0] in ("sudo", "env", "nohup", "time", "!")):
            words.pop(0)
        if words and WORD.match(words[0]) and words[0] not in SHELL_WORDS:
            found.add(words[0])
    return found


def referenced(repo: Path) -> dict[str, set[str]]:
    """Command (bare name or absolute path) -> files that use it."""
    uses: dict[str, set[str]] = {}
    for yml in sorted((repo / "ansible_collections").glob("*/*/roles/**/*.yml")):
        lines = yml.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            match = CMD_LINE.match(line)
            if not match:
                continue
            snippet = match.group(1)
            if snippet.strip() in (">-", "|", "|-", ">"):  # a block scalar: take its indented lines
                indent = len(line) - len(line.lstrip()) + 1
                block = []
                for follow in lines[i + 1 :]:
                    if follow.strip() and len(follow) - len(follow.lstrip()) < indent:
                        break
                    block.append(follow)
                snippet = "\n".join(block)
            for name in _first_words(snippet) | set(ABSOLUTE.findall(" " + snippet)):
                uses.setdefault(name, set()).add(str(yml.relative_to(repo)))
    known = _known_names()
    for py in sorted((repo / "ansible_collections").rglob("plugins/**/*.py")):
        text = py.read_text(errors="replace")
        names = set(ABSOLUTE.findall(text)) | {n for n in MENTION.findall(text) if n in known}
        for name in names:
            uses.setdefault(name, set()).add(str(py.relative_to(repo)))
    return uses


def _known_names() -> set[str]:
    """Command names worth looking for in Python code (imitated, Linux tools, and known but not imitated)."""
    from egpu_lab.macos import executables

    names = {path.rsplit("/", 1)[1] for path in executables()}
    names |= {n for group in image.LINUX_TOOLS.values() for n in group if len(n) > 3}
    return names | set(NOT_IMITATED)


def classify(uses: dict[str, set[str]]) -> list[dict[str, object]]:
    from egpu_lab.macos import executables

    shims = executables()
    shim_names = {path.rsplit("/", 1)[1]: path for path in shims}
    linux = {f"{d}/{n}" for d, names in image.LINUX_TOOLS.items() for n in names} | set(image.LINUX_ALIASES)
    linux_names = {path.rsplit("/", 1)[1]: path for path in linux}
    rows = []
    for name, files in sorted(uses.items()):
        if name.startswith("/"):
            kind = "imitated" if name in shims else "linux tool" if name in linux else "missing"
            if kind == "missing" and name.startswith(INSTALLED_BY_ROLES):
                kind = "installed"
        else:
            kind = "imitated" if name in shim_names else "linux tool" if name in linux_names else "missing"
        rows.append({"command": name, "kind": kind, "used_in": sorted(files)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (default: the cwd)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = classify(referenced(args.root))
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        used = ", ".join(row["used_in"])  # type: ignore[arg-type]
        print(f"{row['kind']:<11} {row['command']:<40} {used}")
    missing = [r for r in rows if r["kind"] == "missing"]
    print(f"\n{len(rows)} commands: {len(rows) - len(missing)} available in a rehearsal host, {len(missing)} missing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
