"""A wrong inventory value is refused at the start of a run, before the first change, naming the variable, where it
was set and what is expected (egpu.mac.inventory_check against every role's meta/argument_specs.yml): exit 2 under
egpu-setup, the same refusal at the same point under plain ansible-playbook."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHECK_TASK = "Check the inventory's values for every role before the first change"
BAD = [
    # (line added to the lab's group_vars/all.yml, what the message must say)
    ("mxnet_cuda_arch_flags: [61, 70]", "mxnet_cuda_arch_flags: [61, 70]"),
    ("egpu_allow_no_gpu: maybe", "egpu_allow_no_gpu: 'maybe'"),
    ("egpu_filevault_restart: sometimes", "one of authrestart, refuse"),
    ("egpu_reboot_timeout: soon", "expected int"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, make_lab: Callable[..., Any]) -> Iterator[Any]:
    with make_lab(tmp_path_factory.mktemp("inventory-values")) as lab:
        yield lab


def _with_line(lab: Any, line: str) -> tuple[Path, str]:
    group_vars = lab.dir / "group_vars" / "all.yml"
    before = group_vars.read_text()
    group_vars.write_text(before + line + "\n")
    return group_vars, before


@pytest.mark.parametrize(("line", "said"), BAD)
def test_a_wrong_value_is_refused_with_exit_2_before_any_change(lab: Any, digest_of: Callable, line: str,
                                                                said: str) -> None:  # fmt: skip
    mac = digest_of(lab.host_dir("mac1"))
    files = sorted(p.relative_to(lab.dir) for p in lab.dir.iterdir())
    group_vars, before = _with_line(lab, line)
    try:
        code, report, err, _ = lab.run("provision")
    finally:
        group_vars.write_text(before)
    assert code == 2, err
    assert "Traceback" not in err
    failure = report["hosts"]["mac1"]["failures"][0]
    assert failure["task"].startswith(CHECK_TASK), failure
    name = line.split(":")[0]
    assert said in failure["message"] and f"{group_vars}:" in failure["message"], failure  # where: file and line
    assert "fix: correct the value where it is set" in failure["message"]
    assert report["hosts"]["mac1"]["changed"] == 0 and name in failure["message"]
    assert digest_of(lab.host_dir("mac1")) == mac, "the refusal changed the Mac"
    assert sorted(p.relative_to(lab.dir) for p in lab.dir.iterdir()) == files  # no lock file written


def test_plain_ansible_playbook_refuses_at_the_same_task(
    lab: Any, digest_of: Callable, ansible_tool: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    mac = digest_of(lab.host_dir("mac1"))
    group_vars, before = _with_line(lab, "mxnet_cuda_arch_flags: [61, 70]")
    try:
        done = ansible_tool("ansible-playbook", "-i", str(lab.inventory), "egpu.mac.provision")
    finally:
        group_vars.write_text(before)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert f"TASK [{CHECK_TASK}" in out and "mxnet_cuda_arch_flags" in out, out
    assert "changed=0" in out and digest_of(lab.host_dir("mac1")) == mac
