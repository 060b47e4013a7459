"""The boot model: what loads after a reboot, from the kext cache, under NVRAM, SIP and the build."""

from __future__ import annotations

import time

import pytest

from egpu_lab import boot, kexts
from egpu_lab.boot import HostDown
from egpu_lab.lab import allow_kexts

pytestmark = pytest.mark.lab

WEB = "com.nvidia.NVDAStartupWeb"
NVIDIA_TEAM = "6KR3T733EC"
APPLE = "com.apple.nvidia.NVDAStartup"
PATCH = (
    "sudo /usr/libexec/PlistBuddy -c 'Set :IOKitPersonalities:NVDAStartup:NVDARequiredOS 17C88' "
    "/Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist"
)


def loaded(host, bundle_id):
    return bool(host.sh(f"kextstat -l -b {bundle_id}").out.strip())


def prepare(host, nvda_drv=True, rebuild=True, allow=True):
    """nvram nvda_drv=1%00, kextcache -i /, and the user's approval of NVIDIA's kexts (TN2459)."""
    if allow:
        allow_kexts(host.machine, NVIDIA_TEAM)
        # NVDAEGPUSupport is yifanlu's kext (lu.yifan.*), not NVIDIA's: its developer needs the click too.
        allow_kexts(host.machine, kexts.team_of(kexts.EGPU_SUPPORT)[0])
    script = []
    if nvda_drv:
        script.append("sudo nvram nvda_drv=1%00")
    if rebuild:
        script.append("sudo kextcache -i /")
    if script:
        r = host.sh(" && ".join(script))
        assert r.rc == 0, r


def test_all_right_the_web_driver_takes_the_gpu(make_host, web_driver):
    host = make_host(sip="kext-off")  # an eGPU Mac: NVDAEGPUSupport loads only with kext signing off
    web_driver(host)
    prepare(host)
    host.reboot()
    assert (
        loaded(host, WEB) and loaded(host, "com.nvidia.web.GeForceWeb") and loaded(host, kexts.EGPU_SUPPORT)
    )
    assert not loaded(host, APPLE)
    st = host.machine.read()
    assert (st.boot.gpu_driver, st.boot.webdriver_version) == ("web", "387.10.10.10.25.156")
    out = host.sh("system_profiler SPDisplaysDataType").out
    assert "Chipset Model: NVIDIA GeForce GTX 1080" in out and "VRAM (Total): 8 GB" in out
    assert "+-o NVDAStartupWeb" in host.sh("ioreg -r -c IOPCIDevice").out


def test_without_user_approval_and_kext_signing_on_apple_driver_stays(host, web_driver, cuda_driver):
    """10.13's User-Approved Kernel Extension Loading: a newly installed third-party kext, intact signature and
    all, does not load until the user allows its team; kext signing off lifts it."""
    web_driver(host)
    cuda_driver(host)
    prepare(host, allow=False)
    host.reboot()
    assert not loaded(host, WEB) and not loaded(host, "com.nvidia.CUDA") and loaded(host, APPLE)
    notes = " ".join(host.machine.read().boot.notes)
    assert "needs user approval" in notes and "team 6KR3T733EC" in notes
    r = host.sh("sudo kextload /Library/Extensions/GeForceWeb.kext")
    assert r.rc == 27
    assert r.err == (
        "/Library/Extensions/GeForceWeb.kext failed to load - (libkern/kext) system policy prevents loading; "
        "check the system/kernel logs for errors or try kextutil(8).\n"
    )
    assert host.sh("sudo kextutil /Library/Extensions/GeForceWeb.kext").rc == 27

    allow_kexts(host.machine, NVIDIA_TEAM)
    host.reboot()
    assert loaded(host, "com.nvidia.CUDA")
    # NVDAEGPUSupport has no kext-signing certificate: with kext signing on it never loads, so the web driver
    # leaves the Thunderbolt GPU to Apple's driver even once NVIDIA's team is allowed.
    assert not loaded(host, kexts.EGPU_SUPPORT) and not loaded(host, WEB) and loaded(host, APPLE)
    assert "without a certificate for kext signing" in " ".join(host.machine.read().boot.notes)


def test_kext_signing_off_needs_no_user_approval(make_host, web_driver):
    host = make_host(sip="kext-off")
    web_driver(host)
    prepare(host, allow=False)
    host.reboot()
    assert loaded(host, WEB)


def test_installed_without_cache_rebuild_is_not_loaded_after_reboot(host, web_driver):
    web_driver(host)
    prepare(host, rebuild=False)
    host.reboot()
    assert not loaded(host, WEB)
    assert loaded(host, APPLE)
    assert "NVIDIA Chip Model" in host.sh("system_profiler SPDisplaysDataType").out
    assert "not in the kext cache" in " ".join(host.machine.read().boot.notes)


def test_patched_plist_with_kext_signing_on_leaves_apple_driver(host, web_driver):
    web_driver(host, required_os="17D47")  # the 10.13.3 driver, patched to accept 17C88 after install
    assert host.sh(PATCH).rc == 0
    prepare(host)
    host.reboot()
    assert not loaded(host, WEB)
    assert loaded(host, APPLE)
    assert "Chipset Model: NVIDIA Chip Model" in host.sh("system_profiler SPDisplaysDataType").out
    assert "invalid signature" in " ".join(host.machine.read().boot.notes)
    r = host.sh("sudo kextload /Library/Extensions/NVDAStartupWeb.kext")  # nor at run time
    assert r.rc == 71 and "(libkern/kext) not loadable (reason unspecified)" in r.err
    assert not loaded(host, WEB)


def test_patched_plist_with_kext_signing_off_loads_the_web_driver(make_host, web_driver):
    host = make_host(sip="kext-off")
    web_driver(host, required_os="17D47")
    assert host.sh(PATCH).rc == 0
    prepare(host)
    host.reboot()
    assert loaded(host, WEB) and not loaded(host, APPLE)


def test_nvda_drv_unset_leaves_apple_driver(host, web_driver):
    web_driver(host)
    prepare(host, nvda_drv=False)
    host.reboot()
    assert not loaded(host, WEB) and loaded(host, APPLE)
    assert "nvda_drv is not set" in " ".join(host.machine.read().boot.notes)


def test_nvda_drv_plain_1_counts_as_on(make_host, web_driver):
    host = make_host(sip="kext-off")  # an eGPU Mac: NVDAEGPUSupport loads only with kext signing off
    web_driver(host)
    allow_kexts(host.machine, NVIDIA_TEAM)
    assert host.sh("sudo nvram nvda_drv=1 && sudo kextcache -i /").rc == 0
    host.reboot()
    assert loaded(host, WEB)


def test_required_os_other_than_the_build_leaves_apple_driver(host, web_driver):
    web_driver(host, required_os="17D47")
    prepare(host)
    host.reboot()
    assert not loaded(host, WEB) and loaded(host, APPLE)
    assert "NVDARequiredOS 17D47 is not the running build 17C88" in " ".join(host.machine.read().boot.notes)


def test_egpu_support_follows_the_same_rules(host, web_driver):
    web_driver(host, egpu_required_os="17D47")  # NVDAEGPUSupport built for another build
    prepare(host)
    host.reboot()
    assert not loaded(host, WEB) and not loaded(host, kexts.EGPU_SUPPORT) and loaded(host, APPLE)
    assert "Thunderbolt" in " ".join(host.machine.read().boot.notes)


def test_cuda_driver_works_only_beside_a_web_driver_of_its_major(make_host, web_driver, cuda_driver):
    host = make_host(sip="kext-off")
    web_driver(host)
    cuda_driver(host, "387.128")
    prepare(host)
    host.reboot()
    st = host.machine.read()
    assert loaded(host, "com.nvidia.CUDA")
    assert (st.boot.cuda_driver_version, st.boot.cuda_works) == ("387.128", True)

    other = make_host(sip="kext-off")
    web_driver(other, version="378.10.10.10.25.102")
    cuda_driver(other, "387.128")
    prepare(other)
    other.reboot()
    st = other.machine.read()
    assert st.boot.gpu_driver == "web" and st.boot.cuda_works is False
    assert "does not work with web driver 378.10.10.10.25.102" in " ".join(st.boot.notes)


def test_boot_loads_from_the_cache_record_not_from_disk(make_host, web_driver):
    host = make_host(sip="kext-off")  # an eGPU Mac: NVDAEGPUSupport loads only with kext signing off
    web_driver(host)
    prepare(host)
    # Changed after the cache was built: the boot still uses what kextcache recorded.
    (host.root / "Library/Extensions/NVDAStartupWeb.kext").rename(host.root / "Library/Extensions/Old.kext")
    host.reboot()
    assert loaded(host, WEB)


def test_who_b_changes_after_each_reboot(host):
    first = host.sh("who -b").out
    host.reboot()
    second = host.sh("who -b").out
    host.reboot()
    third = host.sh("who -b").out
    assert len({first, second, third}) == 3
    assert host.machine.read().boot.count == 3


def test_a_rebooting_host_is_down_until_its_delay_is_over(host):
    with host.machine.edit() as st:
        st.boot.delay_s = 0.6
    host.sh("sudo shutdown -r now")
    with pytest.raises(HostDown, match="is rebooting"):
        host.sh("true")
    time.sleep(0.7)
    assert host.sh("true").rc == 0
    assert not host.machine.read().boot.pending


def test_reboot_hangs_fault_keeps_the_host_down(host):
    with host.machine.edit() as st:
        st.faults.reboot_hangs = True
    host.sh("sudo shutdown -r now")
    with pytest.raises(HostDown, match="did not come back"):
        host.sh("true")
    with host.machine.edit() as st:
        st.faults.reboot_hangs = False
    assert host.sh("true").rc == 0


def test_next_boot_time_advances_at_least_a_minute():
    assert boot.next_boot_time(previous=600, now=610) == 660
    assert boot.next_boot_time(previous=0, now=1_000_000.5) == 999_960
