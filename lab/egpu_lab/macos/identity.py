"""id and whoami: the simulated user (admin, or root under sudo/become)."""

from __future__ import annotations

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/bin/id": "id", "/usr/bin/whoami": "whoami"}

# Groups of the two accounts as `id` prints them on a fresh 10.13 install (shortened to the meaningful ones).
GROUPS = {
    "root": [(0, "wheel"), (1, "daemon"), (2, "kmem"), (3, "sys"), (4, "tty"), (5, "operator"), (8, "procview"),
             (9, "procmod"), (12, "everyone"), (20, "staff"), (29, "certusers"), (61, "localaccounts"),
             (80, "admin")],
    "admin": [(20, "staff"), (12, "everyone"), (61, "localaccounts"), (79, "_appserverusr"), (80, "admin"),
              (81, "_appserveradm"), (98, "_lpadmin"), (33, "_appstore"), (100, "_lpoperator"),
              (204, "_developer"), (395, "com.apple.access_ftp"), (398, "com.apple.access_screensharing"),
              (399, "com.apple.access_ssh")],
}  # fmt: skip


def id(argv: list[str], sim: Sim) -> int:
    """Imitates id(1) (BSD shell_cmds id.c): `uid=501(admin) gid=20(staff) groups=20(staff),...`; -u, -g, -G,
    -n (names), -p is not imitated. A user argument other than root/admin: `id: NAME: no such user`, exit 1.
    """
    flags = "".join(a[1:] for a in argv if a.startswith("-"))
    names = [a for a in argv if not a.startswith("-")]
    user = names[0] if names else sim.user
    if user not in GROUPS:
        sim.fail(f"id: {user}: no such user", 1)
    uid, gid = (0, 0) if user == "root" else (501, 20)
    gname = "wheel" if user == "root" else "staff"
    groups = GROUPS[user]
    if "u" in flags:
        sim.out(user if "n" in flags else str(uid))
    elif "g" in flags:
        sim.out(gname if "n" in flags else str(gid))
    elif "G" in flags:
        sim.out(" ".join(name if "n" in flags else str(num) for num, name in groups))
    else:
        listed = ",".join(f"{num}({name})" for num, name in groups)
        sim.out(f"uid={uid}({user}) gid={gid}({gname}) groups={listed}")
    return 0


def whoami(argv: list[str], sim: Sim) -> int:
    """Imitates whoami(1) (BSD shell_cmds whoami.c): the effective user name."""
    sim.out(sim.user)
    return 0
