"""The facts play before provision: each Mac's build and GPU, read with `egpu.mac.mac_facts` (macOS commands
only, so a bare Mac answers), and the inventory's plan settings, templated by Ansible itself (role defaults,
group_vars, extravars), as preflight's `plan_inputs` tasks hand them over in a `set_fact` event.

Why a play and not the inventory: the plan depends on the build the Mac runs, which only the Mac knows. One short
play over all hosts costs one connection per host; the controller then resolves once per distinct build. A host the
play cannot read gets no plan here; the provision play's preflight reads it again and stops it with the reason.
"""

from __future__ import annotations

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


def wants_plans(content: Content) -> bool:
    """The content's preflight reads plans resolved before the play (a test project without it does not)."""
    return (content.roles_dir / "preflight" / "tasks" / "plan_inputs.yml").is_file()


def read_plan_inputs(content: Content, run_dir: Path, runner_args: dict[str, Any]) -> dict[str, PlanInputs]:
    """{host: its plan inputs} from the facts play, run by ansible-runner with the main run's inventory, limit,
    extravars, environment and passwords (`runner_args`) in `<run_dir>/facts`."""
    import ansible_runner

    facts_dir = run_dir / "facts"
    facts_dir.mkdir()
    playbook = facts_dir / "facts.yml"
    playbook.write_text(FACTS_PLAYBOOK, encoding="utf-8")
    found: dict[str, PlanInputs] = {}
    refused: list[EgpuError] = []  # raised after the play: an exception in the event handler would be lost

    def on_event(event: dict[str, Any]) -> bool:
        data = event.get("event_data", {})
        inputs = (data.get("res") or {}).get("ansible_facts", {}).get("preflight_plan_inputs")
        if event.get("event") == "runner_on_ok" and isinstance(inputs, dict):
            try:
                found[str(data.get("host"))] = PlanInputs.from_args(inputs)
            except EgpuError as exc:
                refused.append(exc)
        return True

    ansible_runner.run(
        private_data_dir=str(facts_dir), playbook=str(playbook), ident="ansible",
        quiet=True, suppress_env_files=True, event_handler=on_event, **runner_args,
    )  # fmt: skip
    if refused:
        raise refused[0]
    return found
