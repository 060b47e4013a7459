"""End to end: a macOS update after provisioning (issue 14), on one rehearsal Mac shared by the module.

provision on 17C88 -> `lab update --build 17C205` (the 10.13.2 Supplemental Update: the web driver stays installed
but declines the new build, the Mac is back on Apple's driver) -> provision re-patches NVDARequiredOS, rebuilds
the kext cache, restarts and verifies -> a re-run changes nothing. Then an update to a build the matrix does not
know: provision refuses it, with the remedy, before anything changes.
"""

from __future__ import annotations

import plistlib

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.lab]

HOST = "mac1"
KEXT_PLISTS = ("NVDAStartupWeb.kext", "NVDAEGPUSupport.kext")


@pytest.fixture(scope="module")
def lab(tmp_path_factory, make_lab):
    with make_lab(tmp_path_factory.mktemp("update")) as lab:
        lab.fill_cache()
        code, _report, err, _ = lab.run("provision")
        assert code == 0, err
        yield lab
    print("\nupdate e2e runs:", lab.runs)


def required_os(lab, kext):
    info = lab.host_dir(HOST) / f"root/Library/Extensions/{kext}/Contents/Info.plist"
    return plistlib.loads(info.read_bytes())["IOKitPersonalities"]["NVDAStartup"]["NVDARequiredOS"]


def rehearsal(lab):
    from egpu_lab.lab import Lab

    return Lab(lab.dir)


@pytest.fixture(scope="module")
def updated(lab):
    outcome = rehearsal(lab).update(HOST, "17C205")
    return outcome, lab.machine(HOST).read()


def test_the_update_leaves_the_mac_on_apples_driver(lab, updated):
    outcome, state = updated
    assert outcome.gpu_driver == "apple" and state.build == "17C205"
    assert [required_os(lab, kext) for kext in KEXT_PLISTS] == ["17C88", "17C88"]  # still installed, old build
    assert not state.boot.cuda_works


@pytest.fixture(scope="module")
def reprovisioned(lab, updated):
    code, report, err, _ = lab.run("provision")
    assert code == 0, err
    return report


def test_provision_repatches_for_the_new_build_and_the_web_driver_loads_again(lab, reprovisioned):
    host = reprovisioned["hosts"][HOST]
    tasks = [change["task"] for change in host["changes"]]
    assert any("NVDARequiredOS" in task and "17C205" in task for task in tasks), tasks
    assert any(task.startswith("Restart the Mac") for task in tasks), tasks
    assert [required_os(lab, kext) for kext in KEXT_PLISTS] == ["17C205", "17C205"]
    state = lab.machine(HOST).read()
    assert (state.boot.gpu_driver, state.boot.webdriver_version, state.boot.cuda_works) == (
        "web", "387.10.10.10.25.156", True)  # fmt: skip
    assert host["verify"]["summary"]["outcome"] == "pass", host["verify"]["summary"]


def test_a_rerun_after_the_update_changes_nothing(lab, reprovisioned):
    code, report, err, _ = lab.run("provision")
    assert code == 0, err
    assert report["hosts"][HOST]["changed"] == 0, report["hosts"][HOST]["changes"]


def test_provision_refuses_a_build_the_matrix_does_not_know_with_the_remedy(lab, reprovisioned, digest_of):
    rehearsal(lab).update(HOST, "17G99")
    before = digest_of(lab.host_dir(HOST))
    code, report, err, _ = lab.run("provision")
    # The host's preflight refuses it with the matrix's own remedy, before any change: an unsupported build is bad
    # input, exit 2 (README "Exit codes", from main's exit-code consistency), the host failed in the report.
    assert code == 2, err
    failures = report["hosts"][HOST]["failures"]
    assert [f["role"] for f in failures] == ["preflight"], failures
    assert "build 17G99 is not in the compatibility matrix" in failures[0]["message"]
    assert "add the build to the matrix" in err and "--allow-nearest" in err
    assert report["hosts"][HOST]["changed"] == 0
    assert digest_of(lab.host_dir(HOST)) == before
