"""osascript: AppleScript from the command line, for the one thing packages ask of it here, an alert.

A rehearsal host has no GUI session: it is reached over SSH (the connection plugin), and a package script runs under
the installer, outside any user's login session. osascript then cannot show a dialog and fails at once with
`<start>:<end>: execution error: No user interaction allowed. (-1713)` on stderr, exit 1 (the error public reports
show for `display dialog` run as root by a management agent: jamf/FileVault2_Scripts#7,
homebysix/jss-filevault-reissue#23, ducksrfr/mac_admin#2; facts table egpu_support.preinstall_alert_without_gui).
On a Mac with a user logged in at the screen the same call may instead wait for a click; the lab never waits.

Divergences: only `display alert`, `display dialog` and `choose from list` are recognised (each fails as above);
any other script is refused with the lab's own message, exit 1; the character range is the position of the
command in the script, not AppleScript's exact one.
"""

from __future__ import annotations

import re

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/bin/osascript": "osascript"}

NO_INTERACTION = "execution error: No user interaction allowed. (-1713)"
_INTERACTIVE = re.compile(r"\b(display\s+alert|display\s+dialog|choose\s+from\s+list)\b")


def osascript(argv: list[str], sim: Sim) -> int:
    """Imitates osascript(1) for `-e STATEMENT` (repeatable) and a script file argument."""
    lines: list[str] = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "-e":
            if not args:
                sim.fail("osascript: option requires an argument -- e", 1)
            lines.append(args.pop(0))
        elif arg.startswith("-"):
            continue  # -l AppleScript, -s flags: output forms only
        else:
            try:
                lines.append(sim.path(arg).read_text())
            except OSError:
                sim.fail(f"osascript: {arg}: No such file or directory", 1)
            break  # the rest are the script's own arguments
    script = "\n".join(lines)
    match = _INTERACTIVE.search(script)
    if match:
        sim.fail(f"{match.start()}:{len(script)}: {NO_INTERACTION}", 1)
    sim.fail("osascript: the rehearsal lab runs no AppleScript but alerts (which fail without a GUI session)", 1)
