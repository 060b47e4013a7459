"""The facts play before provision: each Mac's build and GPU, read with `egpu.mac.mac_facts` (macOS commands
only, so a bare Mac answers), and the inventory's plan settings, templated by Ansible itself (role defaults,
group_vars, extravars), as preflight's `plan_inputs` tasks hand them over in a `set_fact` event.

Why a play and not the inventory: the plan depends on the build the Mac runs, which only the Mac knows. One short
play over all hosts costs one connection per host; the controller then resolves once per distinct build. A host the
play cannot read gets no plan here; the provision play's preflight reads it again and stops it with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egpu_setup.errors import EgpuError
from egpu_setup.runner.content import Content
from egpu_setup.runner.plans import PlanInputs

FACTS_PLAYBOOK = """\
- name: Read each Mac's build and GPU for the controller's plan
  hosts: all
  gather_facts: false
  tasks:
    - name: Read the plan's inputs
      ansible.builtin.import_role:
        name: egpu.mac.preflight
        tasks_from: plan_inputs
"""

# The same play reading more in its one mac_facts call: preflight's `preflight_<what>_*` lists (status, diagnose).
FACTS_PLAYBOOK_READING = """\
- name: Read each Mac's state for egpu-setup {what} (read-only)
  hosts: all
  gather_facts: false
  tasks:
    - name: Read the Mac's build, GPU and what {what} reports
      ansible.builtin.import_role:
        name: egpu.mac.preflight
        tasks_from: plan_inputs
      vars:
        preflight_facts_gather: "{{{{ preflight_{what}_gather | default(['os']) }}}}"
        preflight_facts_nvram: "{{{{ preflight_{what}_nvram | default([]) }}}}"
        preflight_facts_receipts: "{{{{ preflight_{what}_receipts | default([]) }}}}"
        preflight_facts_plists: "{{{{ preflight_{what}_plists | default({{}}) }}}}"
        preflight_facts_probes: "{{{{ preflight_{what}_probes | default({{}}) }}}}"
"""


@dataclass
class FactsRead:
    """What the facts play brought back: per host the fact `egpu_mac` and the plan inputs, and per host that could
    not be read the reason (unreachable or failed)."""

    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: dict[str, PlanInputs] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def wants_plans(content: Content) -> bool:
    """The content's preflight reads plans resolved before the play (a test project without it does not)."""
    return (content.roles_dir / "preflight" / "tasks" / "plan_inputs.yml").is_file()


def read_plan_inputs(content: Content, run_dir: Path, runner_args: dict[str, Any]) -> dict[str, PlanInputs]:
    """{host: its plan inputs} from the facts play, run by ansible-runner with the main run's inventory, limit,
    extravars, environment and passwords (`runner_args`) in `<run_dir>/facts`."""
    return read_facts(run_dir / "facts", FACTS_PLAYBOOK, runner_args).inputs


def read_facts(facts_dir: Path, playbook_text: str, runner_args: dict[str, Any]) -> FactsRead:
    """Run a facts play (FACTS_PLAYBOOK, or FACTS_PLAYBOOK_READING for a command) in `facts_dir` and collect
    each host's `egpu_mac`, plan inputs and failure from the event stream."""
    import ansible_runner

    facts_dir.mkdir(parents=True)
    playbook = facts_dir / "facts.yml"
    playbook.write_text(playbook_text, encoding="utf-8")
    read = FactsRead()
    refused: list[EgpuError] = []  # raised after the play: an exception in the event handler would be lost

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        host = str(data.get("host"))
        res = data.get("res") or {}
        kind = event.get("event")
        facts = res.get("ansible_facts", {}) if isinstance(res, dict) else {}
        if kind == "runner_on_ok" and isinstance(facts.get("egpu_mac"), dict):
            read.facts[host] = facts["egpu_mac"]
        if kind == "runner_on_ok" and isinstance(facts.get("preflight_plan_inputs"), dict):
            try:
                read.inputs[host] = PlanInputs.from_args(facts["preflight_plan_inputs"])
            except EgpuError as exc:
                refused.append(exc)
        if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            message = res.get("msg") if isinstance(res, dict) else None
            read.failed[host] = str(message or kind.removeprefix("runner_on_"))
        return True

    ansible_runner.run(
        private_data_dir=str(facts_dir), playbook=str(playbook), ident="ansible",
        quiet=True, suppress_env_files=True, event_handler=on_event, **runner_args,
    )  # fmt: skip
    if refused:
        raise refused[0]
    return read
