"""Bad input that needs a rehearsal Mac: inventories whose group_vars hold a wrong value, a damaged lock, and the lab
verbs on a lab that exists. One module-scoped lab (one 17C88 Mac, its cache filled as `cache fetch` fills it); each
case digests the lab (host trees, machine state, cache, inventory, lock) and its own directory before and after."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus_harness import GARBAGE, Case, Setup, Where, check_case, files, params

pytestmark = [pytest.mark.lab, pytest.mark.slow]

LAB_TREE = ("{lab}",)
# Ansible reads the Mac's build first (the facts play), then the roles check their arguments: a refusal comes in
# well under this even on a busy machine; a run past it is doing what it should have refused.
ANSIBLE_WAIT = 45.0


def inventory_with(group_vars: str | bytes, *, append: bool = True) -> Setup:
    """{t}/inv: the lab's own inventory, and its group_vars with `group_vars` added (or instead, append=False)."""

    def make(where: Where) -> None:
        assert where.lab is not None
        inv = where.root / "inv"
        (inv / "group_vars").mkdir(parents=True)
        (inv / "inventory.yml").write_text((where.lab / "inventory.yml").read_text())
        base = (where.lab / "group_vars/all.yml").read_bytes()
        extra = group_vars.encode() if isinstance(group_vars, str) else group_vars
        (inv / "group_vars/all.yml").write_bytes(base + b"\n" + extra if append else extra)

    return make


def lab_run(name: str, command: str, setup: Setup, expect: tuple[str, ...], xfail: str | None = None) -> Case:
    """`COMMAND -i {t}/inv/inventory.yml`, the inventory made by `setup`, on the lab's Mac."""
    return Case(name, (command, "-i", "{t}/inv/inventory.yml"), setup=setup, expect=expect, xfail=xfail,
                extra_trees=LAB_TREE, drop_root=False, timeout=ANSIBLE_WAIT, keeps_run_record=True)


def bad_vars(
    name: str, command: str, group_vars: str | bytes, expect: tuple[str, ...], xfail: str | None = None
) -> Case:
    return lab_run(name, command, inventory_with(group_vars), expect, xfail)


def damaged_lock(where: Where) -> None:
    inventory_with("egpu_lock_file: {t}/damaged.lock\n".replace("{t}", str(where.root)))(where)
    (where.root / "damaged.lock").write_bytes(b"artifacts: {webdriver: [\n")


ANSIBLE = [
    bad_vars("plan-group-vars-unknown-profile", "plan", "egpu_profile: nope\n", ("nope", "default")),
    bad_vars("provision-group-vars-unknown-profile", "provision", "egpu_profile: nope\n", ("nope", "default")),
    bad_vars("plan-group-vars-profile-not-a-string", "plan", "egpu_profile: [1, 2]\n",
             ("egpu_profile", "group_vars/all.yml", "expected str")),
    bad_vars("plan-group-vars-arch-flags-list", "plan", "mxnet_cuda_arch_flags: [61, 70]\n",
             ("mxnet_cuda_arch_flags", "group_vars/all.yml")),
    bad_vars("plan-group-vars-allow-no-gpu-maybe", "plan", "egpu_allow_no_gpu: maybe\n",
             ("egpu_allow_no_gpu", "group_vars/all.yml")),
    bad_vars("plan-group-vars-cache-dir-number", "plan", "egpu_cache_dir: 42\n", ("egpu_cache_dir", "absolute path")),
    bad_vars("plan-group-vars-binary", "plan", GARBAGE, ("group_vars/all.yml", "not UTF-8")),
    lab_run("plan-damaged-lock", "plan", damaged_lock, ("damaged.lock",)),
    lab_run("provision-damaged-lock", "provision", damaged_lock, ("damaged.lock",)),
]

L = ("--dir", "{lab}")
VERBS = [
    Case("lab-up-over-existing-lab", ("lab", "up", *L, "--hosts", "1"), expect=("already up",)),
    Case("lab-status-json-changes-nothing", ("lab", "status", *L, "--json"), code=0, refusal=False),
    Case("lab-fault-unknown-host", ("lab", "fault", "nosuch", *L, "--disk-full"), expect=("nosuch", "mac1")),
    Case("lab-fault-no-switch", ("lab", "fault", "mac1", *L), expect=("no fault switch",)),
    Case("lab-fault-install-zero", ("lab", "fault", "mac1", *L, "--fail-install", "0"), expect=("--fail-install",)),
    Case("lab-fault-download-negative", ("lab", "fault", "mac1", *L, "--fail-download", "-1"),
         expect=("--fail-download",)),
    Case("lab-allow-kexts-unknown-host", ("lab", "allow-kexts", "nosuch", *L), expect=("nosuch",)),
    Case("lab-allow-kexts-empty-team", ("lab", "allow-kexts", "mac1", *L, "--team", ""), expect=("team",)),
    Case("lab-allow-kexts-bad-team", ("lab", "allow-kexts", "mac1", *L, "--team", "../../x"), expect=("team",)),
    Case("lab-unlock-unknown-host", ("lab", "unlock", "nosuch", *L), env={"EGPU_LAB_PASSWORD": "pw"},
         expect=("nosuch",)),
    Case("lab-unlock-not-locked", ("lab", "unlock", "mac1", *L), env={"EGPU_LAB_PASSWORD": "pw"},
         expect=("not waiting",)),
    Case("lab-unlock-empty-password-file", ("lab", "unlock", "mac1", *L, "--password-file", "{t}/pw"),
         setup=files(pw=""), expect=("{t}/pw",)),
    Case("plan-rehearse-unknown-profile", ("plan", "--rehearse", "--lab-dir", "{lab}", "--profile", "nope"),
         expect=("nope",)),
]
VERBS = [Case(**{**c.__dict__, "extra_trees": LAB_TREE, "drop_root": False}) for c in VERBS]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A one-Mac lab (bare 17C88, kext signing off, instant reboots) with its installers in its cache."""
    import shutil

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (bwrap) is not installed: the rehearsal lab needs it")
    base = tmp_path_factory.mktemp("corpus-lab")
    env = {**os.environ, "XDG_DATA_HOME": str(base / "data"), "XDG_CACHE_HOME": str(base / "cache")}
    d = base / "lab"
    cli = [sys.executable, "-m", "egpu_setup"]
    subprocess.run([*cli, "lab", "up", "--dir", str(d), "--hosts", "1", "--sip", "kext-off", "--reboot-seconds", "0"],
                   env=env, check=True, capture_output=True, timeout=300)
    subprocess.run([*cli, "cache", "fetch", "--build", "17C88", "--cache-dir", str(d / "cache"), "--lock",
                    str(d / "egpu-setup.lock"), "--overlay", str(d / "matrix-overlay.yaml")],
                   env=env, check=True, capture_output=True, timeout=300)
    yield d
    subprocess.run([*cli, "lab", "down", "--dir", str(d)], env=env, capture_output=True, timeout=120)


@pytest.mark.parametrize("case", params(ANSIBLE + VERBS))
def test_bad_input_on_a_lab(case: Case, lab: Path, tmp_path: Path) -> None:
    check_case(case, Where(tmp_path / "case", lab=lab))
    # `egpu_cache_dir: 42` once made a cache directory `42` inside the tool's own tree
    repo = Path(__file__).parents[2]
    made = [p for p in (repo / "42", repo / "egpu_setup/42", repo / "ansible_collections/egpu/mac/playbooks/42")
            if p.exists()]
    assert not made, f"a directory named after a bad egpu_cache_dir was made: {made}"
