"""The roles against a rehearsal Mac: check mode changes nothing and says what would change, a run changes, a
second run changes nothing, rollback gives back the tree byte for byte. The whole playbook (every role, restart,
verify) is the provisioning tests' (tests/provision); this covers the driver half and the preflight refusals."""

from __future__ import annotations

import os
import plistlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from egpu_lab.macos.base import USERS

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed"),
]

Play = Callable[..., tuple[int, dict[str, int], str]]
Digest = Callable[[Path], dict[str, str]]

DRIVER_ROLES = ["preflight", "python_bootstrap", "nvidia_webdriver", "egpu_support"]


def make_lab(tmp: Path, cli: Callable[..., object], *options: str) -> Path:
    lab = tmp / "lab"
    done = cli("lab", "up", "--dir", str(lab), "--hosts", "1", "--reboot-seconds", "0", *options)
    assert done.code == 0, done.err
    return lab


@pytest.fixture
def play(lab_playbook: Play) -> Play:
    """`play(lab, roles, *ansible_args)`: one play of the collection's roles on the lab's Mac."""

    def run(lab: Path, roles: list[str], *extra: str) -> tuple[int, dict[str, int], str]:
        fqcns = [f"egpu.mac.{r}" for r in roles]
        return lab_playbook(lab, [{"name": "Roles under test", "hosts": "all", "gather_facts": False, "roles": fqcns}],
                            *extra)  # fmt: skip

    return run


@pytest.fixture
def digest(digest_of: Digest) -> Digest:
    """The provisioning tests' digest of the lab's Mac: tree, receipts, NVRAM, xcode-select."""
    return lambda lab: digest_of(lab / "hosts/mac1")


def test_driver_roles_check_apply_reapply_rollback(
    tmp_path: Path, cli: Callable[..., object], play: Play, digest: Digest
) -> None:
    lab = make_lab(tmp_path, cli, "--sip", "kext-off")
    bare = digest(lab)

    rc, counts, out = play(lab, DRIVER_ROLES, "--check", "--diff")
    assert rc == 2 and "plan downloads nothing, and the cache" in out and "egpu-setup cache fetch" in out, out
    assert digest(lab) == bare, "check mode changed the host"
    # as a user does before a plan (README step 3): the installers into the cache, from the lab's mirror
    fetched = cli("cache", "fetch", "--build", "17C88", "--cache-dir", str(lab / "cache"), "--lock",
                  str(lab / "egpu-setup.lock"), "--overlay", str(lab / "matrix-overlay.yaml"))  # fmt: skip
    assert fetched.code == 0, fetched.err
    rc, counts, out = play(lab, DRIVER_ROLES, "--check", "--diff")
    assert rc == 0, out
    assert counts["changed"] >= 4, out  # Python 3, tools, web driver, patch, nvda_drv, kext cache, eGPU support
    assert "com.nvidia.web-driver: absent" in out and "NVDARequiredOS = 17C88" in out
    assert digest(lab) == bare, "check mode changed the host"

    rc, counts, out = play(lab, DRIVER_ROLES)
    assert rc == 0, out
    assert counts["changed"] >= 4, out
    root = lab / "hosts/mac1/root"
    for kext in ("NVDAStartupWeb", "NVDAEGPUSupport"):
        info = plistlib.loads((root / f"Library/Extensions/{kext}.kext/Contents/Info.plist").read_bytes())
        assert info["IOKitPersonalities"]["NVDAStartup"]["NVDARequiredOS"] == "17C88", kext
    cache = plistlib.loads((root / "System/Library/PrelinkedKernels/prelinkedkernel").read_bytes())
    assert {k["NVDARequiredOS"] for k in cache["Kexts"] if k["NVDARequiredOS"]} == {"17C88"}
    # NVIDIA's updater: the agent is installed, its update check off in prefs created for it (rollback removes them).
    assert (root / "Library/LaunchAgents/com.nvidia.nvagent.plist").is_file()
    assert _nvagent_prefs(root) == {"autoCheck": 0}
    assert _owner(_nvagent_path(root)) == (ADMIN_UID, STAFF_GID)  # the user's, though written with become

    os.chown(_nvagent_path(root), 0, 0)  # as an older egpu-setup left it: root's, with the right value
    rc, counts, out = play(lab, DRIVER_ROLES)
    assert rc == 0, out
    assert counts["changed"] == 1, out  # the owner alone
    assert _owner(_nvagent_path(root)) == (ADMIN_UID, STAFF_GID)

    rc, counts, out = play(lab, DRIVER_ROLES)
    assert rc == 0, out
    assert counts["changed"] == 0, out

    rc, counts, out = play(lab, ["rollback"])
    assert rc == 0, out
    assert digest(lab) == bare
    rc, counts, out = play(lab, ["rollback"])
    assert rc == 0 and counts["changed"] == 0, out


ADMIN_UID, STAFF_GID = USERS["admin"][:2]  # as on a Mac: the first account (501), group staff (20)


def _nvagent_path(root: Path) -> Path:
    from egpu_lab.macos.ioreg import platform_uuid

    return root / f"Users/admin/Library/Preferences/ByHost/com.nvidia.nvagent.{platform_uuid('mac1')}.plist"


def _nvagent_prefs(root: Path) -> dict[str, object] | None:
    path = _nvagent_path(root)
    return plistlib.loads(path.read_bytes()) if path.exists() else None


def _owner(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_uid, info.st_gid


def test_updaters_off_after_provisioning_and_back_on_after_rollback(
    tmp_path: Path, cli: Callable[..., object], play: Play, digest: Digest
) -> None:
    """A Mac used before: the web driver agent's prefs check and download in the background, an older CUDA driver's
    updater agent is there. Provisioning turns both off; rollback gives back both files byte for byte."""
    from egpu_lab.macos.ioreg import platform_uuid

    lab = make_lab(tmp_path, cli, "--sip", "kext-off")
    root = lab / "hosts/mac1/root"
    prefs = root / f"Users/admin/Library/Preferences/ByHost/com.nvidia.nvagent.{platform_uuid('mac1')}.plist"
    prefs.write_bytes(
        plistlib.dumps({"autoCheck": 1, "downloadInBackground": True, "lastCheck": 1}, fmt=plistlib.FMT_BINARY)
    )
    agent = root / "Library/LaunchAgents/com.nvidia.CUDASoftwareUpdate.plist"
    agent.write_bytes(plistlib.dumps({"Label": "com.nvidia.CUDASoftwareUpdate", "Comment": "an older driver's"}))
    seeded = {p: p.read_bytes() for p in (prefs, agent)}
    seeded_owner = _owner(prefs)
    bare = digest(lab)
    fetched = cli("cache", "fetch", "--build", "17C88", "--cache-dir", str(lab / "cache"), "--lock",
                  str(lab / "egpu-setup.lock"), "--overlay", str(lab / "matrix-overlay.yaml"))  # fmt: skip
    assert fetched.code == 0, fetched.err
    roles = ["preflight", "python_bootstrap", "nvidia_webdriver", "cuda_driver"]

    rc, counts, out = play(lab, roles, "--check", "--diff")
    assert rc == 0, out
    assert ":autoCheck = 1" in out and ":autoCheck = 0" in out and "CUDASoftwareUpdate.plist" in out, out
    assert digest(lab) == bare, "check mode changed the host"

    rc, counts, out = play(lab, roles)
    assert rc == 0, out
    assert _nvagent_prefs(root) == {"autoCheck": 0, "lastCheck": 1}
    assert _owner(prefs) == (ADMIN_UID, STAFF_GID)
    assert not agent.exists(), "CUDA's updater agent is still there"
    assert (root / "Library/Frameworks/CUDA.framework").is_dir()

    rc, counts, out = play(lab, roles)
    assert rc == 0 and counts["changed"] == 0, out

    rc, counts, out = play(lab, ["rollback"])
    assert rc == 0, out
    assert {p: p.read_bytes() for p in seeded} == seeded, "rollback did not give back the updaters' files"
    assert _owner(prefs) == seeded_owner  # and the prefs' owner with them (the backup is a `cp -p`)
    assert digest(lab) == bare


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--sip", "enabled"), "csrutil enable --without kext"),
        (("--sip", "kext-off", "--gpu", "none"), "No NVIDIA GPU on Thunderbolt"),
        (("--sip", "kext-off", "--clt", "9.3"), "sudo xcode-select --switch /Library/Developer/CommandLineTools"),
    ],
    ids=["kext-signing", "no-gpu", "clt-9.3"],
)
def test_preflight_refuses_with_the_remedy_and_changes_nothing(
    tmp_path: Path, cli: Callable[..., object], options: tuple[str, ...], expected: str, play: Play, digest: Digest
) -> None:
    lab = make_lab(tmp_path, cli, *options)
    before = digest(lab)
    rc, counts, out = play(lab, ["preflight", "python_bootstrap"])
    assert rc != 0 and counts["failed"] == 1, out
    assert expected in out
    assert digest(lab) == before


def test_egpu_support_refuses_before_installer_with_the_remedy(
    tmp_path: Path, cli: Callable[..., object], play: Play, digest: Digest
) -> None:
    """The enabler's own checks, right before installing: its preinstall's csrutil lines, then its volume-check
    against the installed web driver's kexts. Each stops the run with the remedy and leaves the Mac as it was."""
    import json

    lab = make_lab(tmp_path, cli, "--sip", "kext-off")
    rc, counts, out = play(lab, DRIVER_ROLES[:3])
    assert rc == 0, out
    before = digest(lab)

    # The lines the preinstall greps for (here: ones csrutil never prints, so the probe fails like kext signing on).
    rc, counts, out = play(lab, ["preflight", "egpu_support"],
                           "-e", json.dumps({"egpu_support_sip_lines": ["Kext Signing: off"]}))  # fmt: skip
    assert rc != 0 and counts["failed"] == 1, out
    assert "No user interaction allowed" in out and "csrutil enable --without kext" in out
    assert digest(lab) == before

    # A web driver older than the one the package was made for: v6 requires 10.29.10 (the 387 placeholder).
    info_path = lab / "hosts/mac1/root/Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist"
    info = plistlib.loads(info_path.read_bytes())
    info["CFBundleShortVersionString"] = "10.27.6"
    info_path.write_bytes(plistlib.dumps(info))
    before = digest(lab)
    rc, counts, out = play(lab, ["preflight", "egpu_support"])
    assert rc != 0 and counts["failed"] == 1, out
    flat = " ".join(out.split())
    assert "installer would refuse NVDAEGPUSupport-v6.pkg on this Mac" in flat
    assert "NVDAStartupWeb.kext (com.nvidia.NVDAStartupWeb) has CFBundleShortVersionString 10.27.6" in flat
    assert "needs 10.29.10 or later" in flat and "NVDAEGPUSupport 6 was made for the web driver of 17D47" in flat
    assert digest(lab) == before
    assert not (lab / "hosts/mac1/root/private/var/db/receipts/lu.yifan.NVDAEGPUSupport.plist").exists()
