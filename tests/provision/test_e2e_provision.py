"""End to end on rehearsal Macs: plan, provision, re-run, plan again, rollback, on one lab shared by the module.

The tests run in file order and build on each other (module-scoped lab): bare host -> plan (nothing changes) ->
provision (converges) -> second run (changed=0) -> plan (nothing listed) -> rollback (the bare tree again).
"""

from __future__ import annotations

import plistlib
import re
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.lab]

HOSTS = ("mac1",)
WEBDRIVER = "387.10.10.10.25.156"
# What kextstat shows for the web driver's kexts: their CFBundleVersion, NVIDIA's 10.x.y, not the driver's version
# (facts table webdriver.kextstat_versions); the driver's version is GeForceWeb's CFBundleGetInfoString.
WEBDRIVER_KEXTS = "10.3.1"
CLT_92_RECEIPT = "9.2.0.0.1.1510905681"
RESTART = "Restart the Mac so that the drivers running are the ones installed"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, make_lab):
    with make_lab(tmp_path_factory.mktemp("e2e")) as lab:
        yield lab
    print("\nprovision e2e runs:", lab.runs)  # shown with -s; the timings go into the report


@pytest.fixture(scope="module")
def bare(lab, digest_of):
    """The digests of the bare hosts, before anything ran on them."""
    return {name: digest_of(lab.host_dir(name)) for name in HOSTS}


def test_plan_on_bare_hosts_changes_nothing_and_lists_the_changes(lab, bare, digest_of):
    lab.fill_cache()  # README step 3: plan downloads nothing, its diffs come from the cached installers
    code, report, err, _ = lab.run("plan")

    assert code == 0, err
    assert report["check"] is True
    for name in HOSTS:
        assert digest_of(lab.host_dir(name)) == bare[name]
        changes = report["hosts"][name]["changes"]
        roles = {change["role"] for change in changes}
        assert {"python_bootstrap", "nvidia_webdriver", "egpu_support", "cuda_driver", "cuda_toolkit"} <= roles
        assert {"xcode_clt", "cudnn", "mxnet"} <= roles
        assert RESTART in [change["task"] for change in changes]  # the restart a real run would make
        patch = next(c for c in changes if "NVDARequiredOS" in c["task"] and c["role"] == "nvidia_webdriver")
        assert "17C88" in patch["diff"]
        assert report["hosts"][name]["failed"] == 0


@pytest.fixture(scope="module")
def provisioned(lab, bare):
    code, report, err, seconds = lab.run("provision")
    assert code == 0, err + "\n" + _failures(report)
    return report, seconds


def _failures(report):
    if not report:
        return ""
    return "\n".join(
        f"{name}: {f['role']} : {f['task']}: {f['message']}"
        for name, host in report["hosts"].items()
        for f in host["failures"]
    )


def test_provision_converges_to_the_loaded_patched_web_driver(lab, provisioned):
    report, _ = provisioned
    assert report["status"] == "ok"
    for name in HOSTS:
        assert [c["task"] for c in report["hosts"][name]["changes"]].count(RESTART) == 1
        state = lab.machine(name).read()
        assert state.boot.count == 2  # the restart that loaded the drivers
        loaded = {kext.bundle_id: kext.version for kext in state.kexts}
        assert loaded.get("com.nvidia.NVDAStartupWeb") == WEBDRIVER_KEXTS, state.boot.notes
        assert "lu.yifan.NVDAEGPUSupport" in loaded, state.boot.notes
        # The enabler made for the web driver's build (17D47: v6), its NVDARequiredOS patched to the running build.
        enabler = plistlib.loads(
            (lab.host_dir(name) / "root/Library/Extensions/NVDAEGPUSupport.kext/Contents/Info.plist").read_bytes()
        )
        assert enabler["IOKitPersonalities"]["NVDAStartup"]["NVDARequiredOS"] == "17C88"
        receipt = plistlib.loads(
            (lab.host_dir(name) / "root/private/var/db/receipts/lu.yifan.NVDAEGPUSupport.plist").read_bytes()
        )
        assert receipt["PackageVersion"] == "6"
        assert (state.boot.gpu_driver, state.boot.webdriver_version) == ("web", WEBDRIVER)
        info = plistlib.loads(
            (lab.host_dir(name) / "root/Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist").read_bytes()
        )
        assert info["IOKitPersonalities"]["NVDAStartup"]["NVDARequiredOS"] == "17C88"
        assert state.nvram_get("nvda_drv").rstrip(b"\0") == b"1"


def on_mac(host_dir: Path, mac_path: str) -> Path:
    """A Mac path inside the host tree, its symlinks followed the way the Mac would (absolute ones stay inside)."""
    from egpu_setup.macho.dyld import Root

    root = Root(host_dir / "root")
    real = root.realpath(mac_path)
    assert real is not None, f"{mac_path} does not exist on the host"
    return root.host(real)


def test_provision_installs_cuda_91_cudnn_705_and_selects_clt_92(lab, provisioned):
    for name in HOSTS:
        host = lab.host_dir(name)
        root = host / "root"
        state = lab.machine(name).read()
        assert (state.boot.cuda_driver_version, state.boot.cuda_works) == ("387.128", True)
        assert on_mac(host, "/usr/local/cuda/version.txt").read_text() == "CUDA Version 9.1.128\n"
        header = on_mac(host, "/usr/local/cuda/include/cudnn.h").read_text()
        version = [
            re.search(rf"#define CUDNN_{part} (\d+)", header).group(1) for part in ("MAJOR", "MINOR", "PATCHLEVEL")
        ]
        assert version == ["7", "0", "5"]
        assert on_mac(host, "/usr/local/cuda/lib/libcudnn.7.dylib").is_file()
        assert state.developer_dir == "/Library/Developer/CommandLineTools"
        receipt = plistlib.loads(
            (root / "private/var/db/receipts/com.apple.pkg.CLTools_Executables.plist").read_bytes()
        )
        assert receipt["PackageVersion"] == CLT_92_RECEIPT


def _libmxnet(root: Path) -> list[Path]:
    found = [p for p in root.rglob("libmxnet.so") if ".rehearsal" not in p.parts and p.is_file()]
    assert found, "no libmxnet.so on the host"
    return found


def test_mxnet_is_built_for_sm_61_only_and_every_dependency_resolves(lab, provisioned):
    from egpu_lab import facts
    from egpu_setup.macho.dyld import Root, check_slice

    for name in HOSTS:
        root_dir = lab.host_dir(name) / "root"
        root = Root(root_dir)
        for lib in _libmxnet(root_dir):
            archs = set(re.findall(rb"sm_\d\d", lib.read_bytes()))
            assert archs == {b"sm_61"}, f"{lib}: {archs}"
            mac_path = root.to_mac(lib)
            image = root.image(root.realpath(mac_path))
            for sl in image.slices:
                check = check_slice(root, mac_path, sl)
                assert check.ok, [r.to_dict() for r in check.failing] + [
                    r.to_dict() for _, r in check.failing_transitive
                ]
                assert any("libcudart" in r.name for r in check.direct)
                # MXNet 1.0.0's whole link set (facts table), the toolkit's through @rpath, the driver's absolutely
                names = {r.name for r in check.direct}
                assert set(facts.value("cuda_toolkit", "libraries").values()) <= names, names
                assert facts.value("cuda_driver", "libcuda_install_name") in names
        # config.mk stands alone, and the build ran dmlc-core's make with it and gave nvcc the CLT's clang++
        (config,) = [p for p in root_dir.rglob("mxnet-1.0.0/config.mk") if ".rehearsal" not in p.parts]
        assert "include" not in [line.split(" ", 1)[0] for line in config.read_text().splitlines()]
        (log,) = [p for p in root_dir.rglob("mxnet-build.log") if ".rehearsal" not in p.parts]
        text = log.read_text()
        assert re.search(r"dmlc-core; \S*make libdmlc\.a USE_SSE=1 config=\S+/config\.mk; cd ", text), text[-2000:]
        assert "No such file" not in text
        assert " -ccbin /Library/Developer/CommandLineTools/usr/bin/clang++ " in text


def test_libmxnet_is_fixed_by_install_name_tool_and_the_log_shows_the_invocation(lab, provisioned):
    report, _ = provisioned
    log = Path(report["log"]).read_text()
    # xcrun --find install_name_tool -> the Command Line Tools' cctools install_name_tool, one invocation.
    invocation = re.compile(
        r"^/Library/Developer/CommandLineTools/usr/bin/install_name_tool -add_rpath /usr/local/cuda/lib "
        r"(/\S+/lib/libmxnet\.so)$",
        re.M,
    )
    assert "install_name_tool (ran):" in log
    (lib,) = invocation.findall(log)
    assert "+LC_RPATH /usr/local/cuda/lib" in log  # the load commands before/after, from the task's diff
    for name in HOSTS:
        (change,) = [c for c in report["hosts"][name]["changes"] if c["action"] == "egpu.mac.macho_rpaths"]
        assert change["role"] == "mxnet" and "by install_name_tool" in change["task"]
        assert invocation.search(change["diff"]).group(1) == lib
        assert on_mac(lab.host_dir(name), lib).is_file()


def test_provision_brings_back_a_passing_verify_report(provisioned):
    report, _ = provisioned
    for name in HOSTS:
        verify = report["hosts"][name].get("verify")
        assert verify is not None, f"{name}: no verify report in the run report"
        assert verify["kind"] == "verify"
        assert (verify["summary"]["outcome"], verify["summary"]["failed"]) == ("pass", 0), verify["summary"]
        status = {c["name"]: (c["status"], c.get("reason")) for c in verify["checks"]}
        for meaningful in ("gpu.present", "cuda.driver", "cuda.runtime", "cudnn", "mxnet.import", "mxnet.features",
                           "mxnet.libraries"):  # fmt: skip
            assert status[meaningful][0] == "pass", (meaningful, status[meaningful])
        for on_gpu in ("link.bandwidth", "gpu.compute", "mxnet.ndarray", "mxnet.train"):
            assert status[on_gpu] == ("skip", "rehearsal host"), (on_gpu, status[on_gpu])


@pytest.fixture(scope="module")
def rerun(lab, provisioned):
    code, report, err, seconds = lab.run("provision")
    assert code == 0, err + _failures(report)
    return report, seconds


def test_second_run_changes_nothing(rerun, provisioned):
    report, seconds = rerun
    for name in HOSTS:
        host = report["hosts"][name]
        assert host["changed"] == 0, host["changes"]
        # a Mac that holds every file with the right digest is sent nothing; the first run sent the installers
        assert host["bytes_sent"] == 0, host["sent"]
        first = provisioned[0]["hosts"][name]
        assert first["bytes_sent"] == sum(first["sent"].values()) > 0, first["sent"]
        assert "cudnn-9.1-osx-x64-v7-ga.tgz" in first["sent"], first["sent"]
    first_seconds = provisioned[1]
    print(f"\nfirst run {first_seconds:.1f} s, re-run {seconds:.1f} s ({seconds / first_seconds:.0%})")


def test_plan_on_converged_hosts_lists_nothing(lab, rerun, digest_of):
    before = {name: digest_of(lab.host_dir(name)) for name in HOSTS}

    code, report, err, _ = lab.run("plan")

    assert code == 0, err
    for name in HOSTS:
        assert report["hosts"][name]["changes"] == []
        assert digest_of(lab.host_dir(name)) == before[name]


def test_the_verify_playbook_runs_under_the_macs_run_lock(lab, rerun, ansible_tool):
    lock = lab.host_dir("mac1") / "root/private/var/db/egpu-setup.run-lock"
    verify = ("ansible-playbook", "-i", str(lab.inventory), "egpu.mac.verify")  # as a collection user runs it
    done = ansible_tool(*verify)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "TASK [egpu.mac.egpu_common : Take the Mac's run lock" in out and "failed=0" in out
    assert not lock.exists()  # released

    held = "controller=ctl-elsewhere\npid=4242\ncommand=provision\nrun_id=elsewhere-run\n"
    lock.write_text(held + f"since={int(time.time())}\n")
    try:
        done = ansible_tool(*verify)
        out = done.stdout + done.stderr
        assert done.returncode == 2, out
        assert "another run holds this Mac: provision from ctl-elsewhere (pid 4242, run elsewhere-run)" in out
        assert "TASK [egpu.mac.gpu_verify" not in out  # nothing was verified under another run
        assert lock.read_text().startswith(held)  # and its lock is left alone
    finally:
        lock.unlink()


def test_rollback_restores_the_bare_tree_byte_for_byte(lab, bare, rerun, digest_of):
    code, report, err, _ = lab.run("rollback")

    assert code == 0, err + _failures(report)
    for name in HOSTS:
        assert digest_of(lab.host_dir(name)) == bare[name]
        loaded = {kext.bundle_id for kext in lab.machine(name).read().kexts}
        assert not {"com.nvidia.NVDAStartupWeb", "lu.yifan.NVDAEGPUSupport", "com.nvidia.CUDA"} & loaded
