"""MXNet built once for a lab (issue 12), on one 3-Mac rehearsal lab reached over SSH.

0. `plan` of two bare Macs: the first builds, the second reports the install of the archive the first will build;
   nothing changes on either.
1. mac1's first `make` dies (the lab's --fail-build: clang killed for memory) while provisioning mac1 and mac2: both
   end failed; mac2's failure names mac1 as the Mac that was building its key; nothing of MXNet is on mac2.
2. The next run builds again: one compile (on mac1, the first of the run), mac2 installs mac1's archive; libmxnet.so
   is byte-identical on both; the lock file records the archive (origin built, built on mac1) and the cache holds it.
3. mac3, provisioned afterwards on its own, installs the archive without compiling; its libmxnet.so is the same bytes
   and verify passes; a rollback of mac3 brings it back byte for byte.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.slow]

BUILD_TASK = "Ensure lib/libmxnet.so is built"
INSTALL_TASK = "Ensure the archive's files are installed"
LIBRARY = "root/usr/local/egpu-setup/mxnet-1.0.0/lib/libmxnet.so"


def changed(report: dict[str, Any], host: str, task: str) -> bool:
    return any(change["task"].startswith(task) for change in report["hosts"][host]["changes"])


def library_digest(lab: Any, host: str) -> str:
    return hashlib.sha256((lab.host_dir(host) / LIBRARY).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, make_lab):
    with make_lab(tmp_path_factory.mktemp("build-once"), hosts=3) as lab:
        yield lab
    print("\nbuild-once e2e runs:", lab.runs)


def test_the_plan_of_two_bare_macs_has_one_build_and_one_install(lab, digest_of):
    before = {host: digest_of(lab.host_dir(host)) for host in ("mac1", "mac2")}
    lab.fill_cache()

    code, report, err, _ = lab.run("plan", "--limit", "mac1,mac2")

    assert code == 0, err
    assert changed(report, "mac1", BUILD_TASK) and not changed(report, "mac2", BUILD_TASK)
    assert changed(report, "mac2", "Report the install of the archive built in this run by mac1")
    assert {host: digest_of(lab.host_dir(host)) for host in ("mac1", "mac2")} == before


def test_a_failed_build_fails_the_macs_waiting_for_it_and_the_next_run_builds_once(lab, digest_of):
    from egpu_setup.cli import main

    assert main(["lab", "fault", "mac1", "--dir", str(lab.dir), "--fail-build", "1"]) == 0
    code, report, err, _ = lab.run("provision", "--limit", "mac1,mac2")

    assert code == 1, err
    mac1, mac2 = report["hosts"]["mac1"], report["hosts"]["mac2"]
    assert mac1["status"] == "failed" and mac1["failures"][0]["task"].startswith(BUILD_TASK), mac1["failures"]
    assert "Killed: 9" in mac1["failures"][0]["message"]
    assert mac2["status"] == "failed" and len(mac2["failures"]) == 1, mac2["failures"]
    message = mac2["failures"][0]["message"]
    assert "mac1 was to build it" in message and "failed" in message and "run provision again" in message
    assert not (lab.host_dir("mac2") / LIBRARY).exists()

    code, report, err, _ = lab.run("provision", "--limit", "mac1,mac2")

    assert code == 0, err
    assert changed(report, "mac1", BUILD_TASK) and not changed(report, "mac2", BUILD_TASK)
    assert changed(report, "mac2", INSTALL_TASK) and not changed(report, "mac1", INSTALL_TASK)
    assert library_digest(lab, "mac1") == library_digest(lab, "mac2")
    lock = (lab.dir / "egpu-setup.lock").read_text()
    built = [line for line in lock.splitlines() if "mxnet_build@1.0.0+" in line]
    assert len(built) == 1 and "origin: built" in built[0] and 'built_on: "mac1"' in built[0], lock
    archive_sha = built[0].split("sha256: ", 1)[1].split(",", 1)[0]
    cached = Path(lab.dir / "cache" / "sha256" / archive_sha)
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == archive_sha


def test_a_mac_added_later_installs_the_archive_without_compiling(lab, digest_of):
    bare = digest_of(lab.host_dir("mac3"))

    code, report, err, seconds = lab.run("provision", "--limit", "mac3")

    assert code == 0, err
    assert not changed(report, "mac3", BUILD_TASK) and changed(report, "mac3", INSTALL_TASK)
    assert report["hosts"]["mac3"]["verify"]["summary"]["outcome"] == "pass"
    assert library_digest(lab, "mac3") == library_digest(lab, "mac1")
    print(f"\nmac3 provisioned from the archive in {seconds:.1f} s; libmxnet.so {library_digest(lab, 'mac3')}")

    code, report, err, _ = lab.run("provision", "--limit", "mac3")
    assert code == 0 and report["hosts"]["mac3"]["changed"] == 0, err

    code, _, err, _ = lab.run("rollback", "--limit", "mac3")
    assert code == 0, err
    assert digest_of(lab.host_dir("mac3")) == bare
