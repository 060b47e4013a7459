"""sudo: run a command as root in the simulation (EGPU_SIM_USER=root); what Ansible's become uses."""

from __future__ import annotations

import os

from egpu_setup.rehearsal.macos.base import ENV_USER, USERS, Sim

EXECUTABLES = {"/usr/bin/sudo": "sudo"}

USAGE = """usage: sudo -h | -K | -k | -V
usage: sudo -v [-AknS] [-g group] [-h host] [-p prompt] [-u user]
usage: sudo -l [-AknS] [-g group] [-h host] [-p prompt] [-U user] [-u user] [command]
usage: sudo [-AbEHknPS] [-C num] [-g group] [-h host] [-p prompt] [-u user] [VAR=value] [-i|-s] [<command>]
usage: sudo -e [-AknS] [-C num] [-g group] [-h host] [-p prompt] [-u user] file ..."""
WITH_ARG = {"-u", "-p", "-g", "-C", "-h", "-U"}


def sudo(argv: list[str], sim: Sim) -> int:
    """Imitates sudo 1.8 as macOS 10.13 ships it (sudo(8) man page; the admin user may run anything without a
    password here, like a lab Mac with NOPASSWD for admin): options -u USER, -H, -S, -n, -p PROMPT, -E, -i, -s,
    `--`, VAR=value, then the command. This is what Ansible's sudo become plugin sends (`sudo -H -S -n -p "..."
    -u root /bin/sh -c 'echo BECOME-SUCCESS-...; ...'`): the marker is printed by the command, no prompt is shown
    because no password is asked. -u other than root/admin: `sudo: unknown user: NAME`, exit 1. -V prints the
    version. Divergence: no password, no sudoers, no timestamp; -l lists `(ALL) ALL`.
    """
    user = "root"
    set_home = False
    login = False
    extra: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in WITH_ARG:
            if i + 1 >= len(argv):
                sim.fail(f"sudo: option requires an argument -- '{arg[1]}'\n{USAGE}", 1)
            if arg == "-u":
                user = argv[i + 1]
            i += 2
            continue
        if arg.startswith("-u") and len(arg) > 2:
            user = arg[2:]
        elif arg == "-V":
            sim.out("Sudo version 1.8.17p1")
            return 0
        elif arg == "-l":
            sim.out(f"User {sim.user} may run the following commands on {sim.machine.read().hostname}:")
            sim.out("    (ALL) ALL")
            return 0
        elif arg in ("-v", "-k", "-K"):
            return 0
        elif arg.startswith("-") and len(arg) > 1:
            for flag in arg[1:]:
                if flag == "H":
                    set_home = True
                elif flag in "i":
                    login = True
                elif flag in "sSnEAbP":
                    pass
                else:
                    sim.fail(f"sudo: illegal option -- {flag}\n{USAGE}", 1)
        elif "=" in arg and not arg.startswith("="):
            key, value = arg.split("=", 1)
            extra[key] = value
        else:
            break
        i += 1
    command = argv[i:]
    if user not in USERS:
        sim.fail(f"sudo: unknown user: {user}", 1)
    env = dict(sim.env)
    env.update(extra)
    env[ENV_USER] = user
    env["USER"] = env["LOGNAME"] = user
    env["SUDO_USER"] = sim.user
    if set_home or login or user == "root":  # macOS sudoers: `Defaults always_set_home` is not set, but -H is
        env["HOME"] = USERS[user][2]
    if not command:
        if login:
            command = ["/bin/bash", "-l"]
        else:
            sim.fail(USAGE, 1)
    sim.stdout.flush()
    sim.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        sim.fail(f"sudo: {command[0]}: command not found", 1)
    except PermissionError:
        sim.fail(f"sudo: unable to execute {command[0]}: Permission denied", 1)
    return 1
