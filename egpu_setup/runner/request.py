"""A run's request and outcome (`egpu_setup.runner.run(RunRequest) -> RunOutcome`), and the checks of its inputs.

Nothing here knows argparse or the CLI: the CLI builds the request; views and consoles come in as objects."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from egpu_setup.errors import EgpuError
from egpu_setup.files import read_input, require_regular

INVENTORY_HELP = "pass -i with an Ansible inventory (see inventory/example/hosts.yml), or use --rehearse"


@dataclass
class RunRequest:
    """One ansible-playbook run as a command asks for it."""

    command: str  # provision | plan | rollback: names the run directory and the report
    playbook: str  # a playbook of the egpu.mac collection: provision runs egpu.mac.provision
    inventory: Path
    limit: str | None = None
    profile: str | None = None  # -> extravar egpu_profile; None leaves it to the inventory's group_vars
    check: bool = False  # check mode with diff (`plan`)
    extravars: dict[str, Any] = field(default_factory=dict)
    runs_dir: Path | None = None  # default egpu_setup.paths.runs_dir()
    # sudo's password for become (-K): answered at ansible-playbook's prompt through ansible-runner's
    # `passwords`, never an extravar or an env file
    become_password: str | None = field(default=None, repr=False)
    # Called in ansible-runner's thread with every event; True kills ansible-playbook right there (its process
    # group gets SIGKILL), the way a crash or a power cut would stop a run. Tests use it to stop between steps.
    kill_when: Callable[[dict[str, Any]], bool] | None = None
    view: Any = None  # a runner.view.View; None: plain lines on stderr
    on_start: Callable[[Path], None] | None = None  # gets the log's path before Ansible starts
    console: Any = None  # a rich Console for the cache's download bars; None: downloads stay quiet
    # resolve every host's plan and fetch its artifacts on the controller before the play (provision, plan)
    resolve_plans: bool = False
    # another run holding a targeted Mac (the controller's lock or the Mac's): None refuses (exit 4), a number of
    # seconds waits that long (runner.host_lock.WAIT_FOREVER: as long as it takes), telling `on_wait`
    wait_s: float | None = None
    on_wait: Callable[[str], None] | None = None
    break_lock: bool = False  # remove the Macs' run locks, whoever holds them (--break-lock)
    # the hosts the run targets (check_hosts: after --limit), which size Ansible's forks; None: read at the start
    hosts: list[str] | None = None
    serial: int | str | None = None  # Macs per batch, or "P%" (--serial) -> extravar egpu_serial
    max_fail_percent: int | None = None  # --max-fail-percent -> extravar egpu_max_fail_percent

    def all_extravars(self) -> dict[str, Any]:
        """The extra vars on the command line; only non-secret values belong here (they show in `ps`)."""
        merged = dict(self.extravars)
        if self.profile:
            merged["egpu_profile"] = self.profile
        if self.serial is not None:
            merged["egpu_serial"] = self.serial
        if self.max_fail_percent is not None:
            merged["egpu_max_fail_percent"] = self.max_fail_percent
        return merged


@dataclass
class RunOutcome:
    """What a run produced; `exit_code` follows egpu_setup.errors.ExitCode."""

    report: dict[str, Any]
    exit_code: int
    run_dir: Path
    log: Path


def check_inventory(path: Path) -> Path:
    """The inventory as an absolute path, or EgpuError (exit 2) when it does not exist. Ansible reads it in
    check_hosts: in this process the inventory is parsed once, by Ansible's own InventoryManager."""
    path = path.expanduser()
    if not path.exists():
        raise EgpuError(f"inventory {path} does not exist", fix=INVENTORY_HELP)
    require_regular(path, "inventory", directory_ok=True)  # Ansible would wait on a FIFO for ever
    if path.is_file():
        _require_text(path, "inventory")
    _require_text_vars(path if path.is_dir() else path.parent)
    return path.resolve()


# The files Ansible reads as group_vars/host_vars beside an inventory (no extension, or one of its YAML/JSON ones).
_VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")
_VARS_FILES_CHECKED = 1000  # a bound on the walk: an inventory's vars are a handful of files


def _require_text_vars(base: Path) -> None:
    """group_vars/ and host_vars/ beside the inventory, as Ansible will read them: each file text (not binary, not
    a FIFO). Ansible's own error for a binary one comes after the run started and names no file."""
    seen = 0
    for sub in ("group_vars", "host_vars"):
        top = base / sub
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or Path(name).suffix not in _VARS_SUFFIXES:
                    continue
                seen += 1
                if seen > _VARS_FILES_CHECKED:
                    return
                _require_text(Path(dirpath) / name, f"inventory vars file (`{sub}`)")


def _require_text(path: Path, what: str) -> None:
    """A binary inventory (or vars) file is refused here: Ansible's parsers stop on it with "Unexpected Exception
    ... embedded null byte" or a YAML error after the run has started, naming neither the file nor the fault."""
    text = read_input(path, what)  # EgpuError (exit 2) for a file that is unreadable, not regular, not UTF-8
    if "\0" in text:
        raise EgpuError(
            f"{what} {path} is not a text file (it holds NUL bytes)",
            fix="name the Ansible inventory and its vars as text (YAML or INI); see inventory/example/hosts.yml",
        )


def _explain_no_hosts(path: Path) -> None:
    """Why Ansible found no host in a YAML inventory, in words that name the fault, or nothing when the YAML is a
    mapping (then it lists no host). Read only when Ansible's own parse came back empty."""
    if not (path.is_file() and path.suffix in (".yml", ".yaml")):
        return
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EgpuError(f"cannot read inventory {path}: {exc}", fix=INVENTORY_HELP) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise EgpuError(
            f"inventory {path} is not valid YAML{line}: {getattr(exc, 'problem', None) or exc}",
            fix="fix the YAML; an Ansible YAML inventory maps group names (e.g. `all`) to hosts/children/vars",
        ) from None
    if not isinstance(doc, dict) or not doc:
        raise EgpuError(
            f"inventory {path} is not an Ansible YAML inventory (expected a mapping of groups, found "
            f"{type(doc).__name__})",
            fix="start it with `all:` and list the Macs under `hosts:`; see inventory/example/hosts.yml",
        )


def check_hosts(inventory: Path, limit: str | None) -> list[str]:
    """The hosts the run would target, read with Ansible's own inventory parser before anything starts; an
    inventory (or --limit) that selects none is bad input, refused before a run directory exists."""
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    try:
        manager = InventoryManager(loader=DataLoader(), sources=[str(inventory)])
        hosts = [host.name for host in manager.list_hosts(limit or "all")]
    except AnsibleError as exc:  # a plugin or pattern Ansible itself refuses: its own words, no traceback
        raise EgpuError(f"Ansible cannot read inventory {inventory}: {exc.message}", fix=INVENTORY_HELP) from None
    if not hosts:
        if limit and manager.list_hosts("all"):
            raise EgpuError(
                f"--limit {limit!r} selects no host of inventory {inventory}",
                fix=f"hosts there: {', '.join(h.name for h in manager.list_hosts('all'))}",
            )
        _explain_no_hosts(inventory)
        raise EgpuError(
            f"inventory {inventory} names no host (Ansible found no hosts in it)",
            fix="list the Macs under `hosts:` as a mapping (`mac-01:` with `ansible_host: ...` below it); see "
            "inventory/example/hosts.yml",
        )
    return hosts


def check_profile(name: str | None) -> None:
    """An unknown profile is bad input (exit 2); the matrix says which ones exist."""
    if name is None:
        return
    from egpu_setup.matrix import load_matrix

    load_matrix().profile(name)
