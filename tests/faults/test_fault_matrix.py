"""The fault matrix: every fault the lab can inject, at each role it can hit, told by one clear message (exit 1, no
traceback); the re-run with the faults cleared converges, the next one changes nothing, and rollback gives back
each Mac as it was before provisioning (digest of its tree and NVRAM).

Chained to stay within minutes: three hosts, one fault kind each (mac1 installer, mac2 transfer, mac3 a disk that
fills mid-run), and every run moves each fault on to the next role. The lab's switches count events, so the Nth
event of a run is aimed from what each role writes on a fresh Mac (PUTS, INSTALLS: counted from a provision at
ANSIBLE_VERBOSITY=3, the connection's PUT lines and installer runs): a role that failed at its first write redoes
all of its writes in the next run, so the next role's first write is the (writes of the failed role + 1)th. mac1
also takes the restart that never comes back (after cuda_driver) and a power loss after its installer chain.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.lab]

HOSTS = ("mac1", "mac2", "mac3")
ROLES = ("python_bootstrap", "nvidia_webdriver", "egpu_support", "cuda_driver", "cuda_toolkit", "xcode_clt", "cudnn",
         "mxnet")  # fmt: skip
# Files the connection puts onto a fresh Mac, and installer runs (installer(8), CUDAMacOSXInstaller), per role;
# cuda_driver's puts include the two module files of the restart after it (ansible.builtin.reboot). A converged
# role puts nothing (measured: a second run puts only gpu_verify's module, after every role here).
PUTS = {"python_bootstrap": 2, "nvidia_webdriver": 2, "egpu_support": 1, "cuda_driver": 3, "cuda_toolkit": 2,
        "xcode_clt": 1, "cudnn": 1, "mxnet": 6}  # fmt: skip
INSTALLS = {"python_bootstrap": 1, "nvidia_webdriver": 1, "egpu_support": 1, "cuda_driver": 1, "cuda_toolkit": 1,
            "xcode_clt": 1}  # fmt: skip
WRITES = {role: PUTS.get(role, 0) + INSTALLS.get(role, 0) for role in ROLES}


def aims(per_role: dict[str, int]) -> list[tuple[int, str]]:
    """(N, the role the Nth event of the run falls in) for each run of a chain over the roles that have events."""
    roles = [role for role in ROLES if per_role.get(role)]
    return [(1 if i == 0 else per_role[roles[i - 1]] + 1, role) for i, role in enumerate(roles)]


def set_faults(lab, name: str, **faults) -> None:
    """Replace the host's fault switches (and their counters) with these."""
    from egpu_lab.machine import Faults

    with lab.machine(name).edit() as state:
        state.faults = Faults(**faults)


def first_failure(report, name: str) -> dict:
    failures = report["hosts"][name]["failures"]
    assert len(failures) == 1, failures  # one failure, told once
    return failures[0]


# The installer chain of mac1, with the restart that hangs where its chain passes the restart.
MAC1_RUNS: list[dict] = [
    {"fail_install": 1, "expect": ("python_bootstrap", "installer")},
    {"fail_install": 2, "expect": ("nvidia_webdriver", "installer")},
    {"fail_install": 2, "expect": ("egpu_support", "installer")},
    {"fail_install": 2, "expect": ("cuda_driver", "installer")},
    {"reboot_hangs": True, "expect": ("egpu_common", "reboot_hang")},
    {"fail_install": 1, "expect": ("cuda_toolkit", None)},  # CUDAMacOSXInstaller runs as a command: its own text
    {"fail_install": 2, "expect": ("xcode_clt", "installer")},
    {"lose_after": 40, "expect": (None, "host_lost")},
]


def check_mac1(failure: dict, expect: tuple[str | None, str | None]) -> None:
    role, kind = expect
    assert role is None or failure["role"] == role, failure
    assert failure["kind"] == kind, failure
    if kind == "installer":
        assert failure["message"].startswith("the installer failed on mac1 installing "), failure
        assert "/private/var/log/install.log" in failure["fix"]
    elif kind == "reboot_hang":
        assert re.match(r"mac1 did not come back after \d+ s from the restart", failure["message"]), failure
        assert "FileVault unlock? kernel panic?" in failure["fix"]
        assert "ssh" not in failure["message"].lower()
    elif kind == "host_lost":
        assert failure["message"].startswith("mac1 stopped answering during "), failure
        assert "converges" in failure["fix"]


def test_each_fault_at_each_role_fails_clearly_then_converges_and_rolls_back(tmp_path, make_lab, digest_of):
    started = time.monotonic()
    with make_lab(tmp_path, hosts=len(HOSTS)) as lab:
        bare = {name: digest_of(lab.host_dir(name)) for name in HOSTS}
        (lab.dir / "host_vars").mkdir(exist_ok=True)
        (lab.dir / "host_vars/mac1.yml").write_text("egpu_common_reboot_timeout: 3\n")
        downloads, disk = aims(PUTS), aims(WRITES)
        assert len(downloads) == len(disk) == len(MAC1_RUNS) == len(ROLES)

        for mac1, (put_at, put_role), (fill_at, fill_role) in zip(MAC1_RUNS, downloads, disk, strict=True):
            set_faults(lab, "mac1", **{k: v for k, v in mac1.items() if k != "expect"})
            set_faults(lab, "mac2", fail_download=put_at)
            set_faults(lab, "mac3", disk_full_at=fill_at)

            code, report, err, _ = lab.run("provision")

            assert code == 1, err
            assert "Traceback" not in err
            check_mac1(first_failure(report, "mac1"), mac1["expect"])
            transfer = first_failure(report, "mac2")
            assert (transfer["role"], transfer["kind"]) == (put_role, "transfer"), transfer
            assert re.match(r"copying \S+ to mac2 failed: ", transfer["message"]), transfer
            assert "resumes" in transfer["fix"]
            full = first_failure(report, "mac3")
            assert (full["role"], full["kind"]) == (fill_role, "disk_full"), full
            assert re.match(r"the disk of mac3 is full: 0 bytes free, \S+ needs \d+", full["message"]), full
            assert "free space" in full["fix"]

        for name in HOSTS:
            set_faults(lab, name)
        code, report, err, _ = lab.run("provision")
        assert code == 0, (err, report)
        code, report, err, _ = lab.run("provision")
        assert code == 0, err
        assert {name: report["hosts"][name]["changed"] for name in HOSTS} == dict.fromkeys(HOSTS, 0)

        code, report, err, _ = lab.run("rollback")
        assert code == 0, err
        for name in HOSTS:
            assert digest_of(lab.host_dir(name)) == bare[name], name
        print(f"fault matrix: {time.monotonic() - started:.0f} s; runs: {lab.runs}")
