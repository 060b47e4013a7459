"""sudo: run a command as another user (EGPU_SIM_USER), asking admin for the account password unless sudoers says
NOPASSWD; what Ansible's sudo become uses."""

from __future__ import annotations

import os

from egpu_lab.macos.base import ENV_USER, USERS, Sim

EXECUTABLES = {"/usr/bin/sudo": "sudo"}

USAGE = """usage: sudo -h | -K | -k | -V
usage: sudo -v [-AknS] [-g group] [-h host] [-p prompt] [-u user]
usage: sudo -l [-AknS] [-g group] [-h host] [-p prompt] [-U user] [-u user] [command]
usage: sudo [-AbEHknPS] [-C num] [-g group] [-h host] [-p prompt] [-u user] [VAR=value] [-i|-s] [<command>]
usage: sudo -e [-AknS] [-C num] [-g group] [-h host] [-p prompt] [-u user] file ..."""
WITH_ARG = {"-u", "-p", "-g", "-C", "-h", "-U"}

# sudo 1.8.17p1's defaults (sudo-project/sudo:configure.ac@SUDO_1_8_17p1: passprompt, badpass_message,
# passwd_tries) and messages (plugins/sudoers/logging.c, src/tgetpass.c).
PROMPT = "Password: "
BAD_PASSWORD = "Sorry, try again."
TRIES = 3
PASSWORD_REQUIRED = "sudo: a password is required"
NO_TTY = "sudo: no tty present and no askpass program specified"
# macOS's own lecture, shown before the first password prompt of each user (public transcripts of 10.x sudo).
LECTURE = """
WARNING: Improper use of the sudo command could lead to data loss
or the deletion of important system files. Please double-check your
typing when using sudo. Type "man sudo" for more information.

To proceed, enter your password, or type Ctrl-C to abort.

"""
LECTURED_DIR = "/private/var/db/sudo/lectured"


class _Options:
    def __init__(self) -> None:
        self.user = "root"
        self.set_home = self.login = self.stdin_password = self.non_interactive = False
        self.prompt: str | None = None
        self.mode = "run"  # run | list | validate | version | invalidate
        self.extra: dict[str, str] = {}
        self.command: list[str] = []


def sudo(argv: list[str], sim: Sim) -> int:
    """Imitates sudo 1.8.17p1 as macOS 10.13 ships it (sudo(8); sudo-project/sudo@SUDO_1_8_17p1).

    Options -u USER, -H, -S, -n, -p PROMPT, -E, -i, -s, -k, -K, -v, -l, -V, `--`, VAR=value, then the command; what
    Ansible's sudo become plugin sends: `sudo -H -S -n -u root /bin/sh -c 'echo BECOME-SUCCESS-...; ...'`, and with a
    become password `sudo -H -S -p "[sudo via ansible, key=...] password:" -u root ...`.

    Who is asked for a password: admin, when /private/etc/sudoers has no NOPASSWD in the `%admin` rule (macOS's
    default rule is `%admin ALL = (ALL) ALL`; a lab made without `--sudo-password` has NOPASSWD), and when the target
    user is another one; root never is (plugins/sudoers/check.c check_user). Then, as sudo does:
    - `-n`: `sudo: a password is required`, exit 1, before any prompt (check.c; logging.c);
    - the lecture before the first prompt of a user who was never lectured (lecture=once; the status file
      /private/var/db/sudo/lectured/<user> is made after a successful authentication: timestamp.c set_lectured);
      macOS's own lecture text, on stderr;
    - with `-S` the prompt (`-p`, else `Password: ` with %u %U %h %H %p %% expanded) goes to stderr and the password
      is read from stdin one byte at a time up to a newline, so the command gets the rest of stdin (src/tgetpass.c
      getln: end of input before the newline counts as no password); without `-S` it reads /dev/tty, and where there
      is none: `sudo: no tty present and no askpass program specified`, exit 1 (tgetpass.c);
    - three tries (passwd_tries=3): `Sorry, try again.` before each retry, then `sudo: 3 incorrect password
      attempts`, exit 1; no password typed at all: exit 1 without a message (auth/sudo_auth.c verify_user).
    -u other than root/admin: `sudo: unknown user: NAME`, exit 1. -V prints the version.

    Divergences: no time stamps (with tty_tickets and no tty, sudo 1.8 keys them to the parent process, which is a
    new shell for every Ansible command, so each command asks anyway); sudoers is read only for the admin rule's
    NOPASSWD; no askpass (-A), no PAM, no mail or syslog of failures; -l lists `(ALL) ALL` or `(ALL) NOPASSWD: ALL`.
    """
    opts = _parse(argv, sim)
    if opts.mode == "version":
        sim.out("Sudo version 1.8.17p1")
        return 0
    if opts.mode == "invalidate" and not opts.command:
        return 0
    if opts.user not in USERS:
        sim.fail(f"sudo: unknown user: {opts.user}", 1)
    asks = _asks_password(sim, opts.user)
    if asks:
        _authenticate(sim, opts)
    if opts.mode == "validate":
        return 0
    if opts.mode == "list":
        sim.out(f"User {sim.user} may run the following commands on {sim.machine.read().hostname}:")
        sim.out("    (ALL) ALL" if asks or sim.is_root else "    (ALL) NOPASSWD: ALL")
        return 0
    return _exec(sim, opts)


def _parse(argv: list[str], sim: Sim) -> _Options:
    opts = _Options()
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
                opts.user = argv[i + 1]
            elif arg == "-p":
                opts.prompt = argv[i + 1]
            i += 2
            continue
        if arg.startswith("-u") and len(arg) > 2:
            opts.user = arg[2:]
        elif arg.startswith("-p") and len(arg) > 2:
            opts.prompt = arg[2:]
        elif arg.startswith("-") and len(arg) > 1:
            for flag in arg[1:]:
                if flag == "H":
                    opts.set_home = True
                elif flag == "i":
                    opts.login = True
                elif flag == "S":
                    opts.stdin_password = True
                elif flag == "n":
                    opts.non_interactive = True
                elif flag == "V":
                    opts.mode = "version"
                elif flag == "l":
                    opts.mode = "list"
                elif flag == "v":
                    opts.mode = "validate"
                elif flag in "kK":
                    opts.mode = "invalidate" if opts.mode == "run" else opts.mode
                elif flag in "sEAbP":
                    pass
                else:
                    sim.fail(f"sudo: illegal option -- {flag}\n{USAGE}", 1)
        elif "=" in arg and not arg.startswith("="):
            key, value = arg.split("=", 1)
            opts.extra[key] = value
        else:
            break
        i += 1
    opts.command = argv[i:]
    return opts


def _asks_password(sim: Sim, target: str) -> bool:
    from egpu_lab import accounts

    if sim.is_root or target == sim.user:
        return False
    try:
        sudoers = sim.path(accounts.SUDOERS).read_text()
    except OSError:
        sudoers = ""
    return accounts.admin_needs_password(sudoers)


def _authenticate(sim: Sim, opts: _Options) -> None:
    """Ask for the invoking user's password the way sudo 1.8 does; returns on success, else stops with exit 1."""
    from egpu_lab import accounts

    if opts.non_interactive:
        sim.fail(PASSWORD_REQUIRED, 1)
    lectured = sim.path(f"{LECTURED_DIR}/{sim.user}")
    sim.stdout.flush()
    if not lectured.exists():
        sim.stderr.write(LECTURE)
        sim.stderr.flush()
    if opts.stdin_password:
        read_fd, write_fd, tty = 0, 2, None
    else:
        try:
            tty = os.open("/dev/tty", os.O_RDWR)
        except OSError:
            sim.fail(NO_TTY, 1)
        read_fd = write_fd = tty
    prompt = _expand(opts.prompt if opts.prompt is not None else PROMPT, sim, opts.user)
    stored = sim.machine.read().admin_password
    tries = 0
    try:
        while tries < TRIES:
            if tries:
                sim.err(BAD_PASSWORD)
                sim.stderr.flush()
            password = _ask(read_fd, write_fd, prompt)
            if password is None:
                break
            if accounts.check_password(password, stored):
                lectured.parent.mkdir(parents=True, exist_ok=True)
                lectured.touch(mode=0o600, exist_ok=True)
                return
            tries += 1
    finally:
        if tty is not None:
            os.close(tty)
    if tries:
        sim.fail(f"sudo: {tries} incorrect password attempt{'s' if tries != 1 else ''}", 1)
    sim.fail(None, 1)


def _ask(read_fd: int, write_fd: int, prompt: str) -> str | None:
    """Write the prompt and read the password line, not echoed where the input is a terminal (an ssh -tt session,
    as Ansible's raw and the reboot's commands run). As tgetpass.c does (term_noecho, also with -S), echo goes off
    BEFORE the prompt is written: whoever answers the prompt (Ansible writes the password as soon as it sees it)
    must find echo off already, else the terminal echoes the password back into the session's output. The change
    waits for output to drain and keeps pending input (TCSADRAIN, term.c sudo_term_noecho); the newline the user's
    Return no longer shows is written after the line is read."""
    import termios

    try:
        saved = termios.tcgetattr(read_fd)
    except termios.error:
        saved = None  # not a terminal: nothing echoes
    if saved is not None:
        quiet = list(saved)
        quiet[3] &= ~(termios.ECHO | termios.ECHONL)
        termios.tcsetattr(read_fd, termios.TCSADRAIN, quiet)
    try:
        os.write(write_fd, prompt.encode())
        return _read_line(read_fd)
    finally:
        if saved is not None:
            termios.tcsetattr(read_fd, termios.TCSAFLUSH, saved)  # sudo_term_restore(input, flush=true)
            os.write(write_fd, b"\n")


def _read_line(fd: int) -> str | None:
    """One line read a byte at a time (the rest of the input stays for the command); None at end of input."""
    data = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte:
            return None
        if byte in (b"\n", b"\r"):
            return data.decode("utf-8", "replace")
        data += byte


def _expand(prompt: str, sim: Sim, target: str) -> str:
    """sudo's prompt escapes: %u the invoking user, %U the target user, %p the user whose password is asked,
    %h and %H the host name, %% a percent sign."""
    host = sim.machine.read().hostname
    values = {"u": sim.user, "U": target, "p": sim.user, "h": host, "H": host, "%": "%"}
    out, i = [], 0
    while i < len(prompt):
        if prompt[i] == "%" and i + 1 < len(prompt) and prompt[i + 1] in values:
            out.append(values[prompt[i + 1]])
            i += 2
        else:
            out.append(prompt[i])
            i += 1
    return "".join(out)


def _exec(sim: Sim, opts: _Options) -> int:
    env = dict(sim.env)
    env.update(opts.extra)
    env[ENV_USER] = opts.user
    env["USER"] = env["LOGNAME"] = opts.user
    env["SUDO_USER"] = sim.user
    if opts.set_home or opts.login or opts.user == "root":  # macOS sudoers: `Defaults always_set_home` unset
        env["HOME"] = USERS[opts.user][2]
    command = opts.command
    if not command:
        if opts.login:
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
