"""status and diagnose on one converged rehearsal lab (2 Macs whose sudo asks for a password; provisioned once
with -K for the module): status changes nothing and exits 0 without drift, names a Mac's drift with exit 1, and a
diagnose bundle holds every item support asks for and never the password."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PASSWORD = "lab-secret-Pw-4711"


@pytest.fixture(scope="module")
def lab(tmp_path_factory, make_lab):
    import getpass

    from egpu_lab.accounts import hash_password

    with make_lab(tmp_path_factory.mktemp("fleet"), hosts=2, sudo_password=True,
                  password_hash=hash_password(PASSWORD)) as lab, pytest.MonkeyPatch.context() as env:  # fmt: skip
        env.setattr(getpass, "getpass", lambda prompt="", stream=None: PASSWORD)
        code, _report, err, _ = lab.run("provision", "-K")
        assert code == 0, err
        yield lab


def status(lab, *args: str) -> tuple[int, dict, str]:
    from egpu_setup.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["status", "-i", str(lab.inventory), "-K", "--json", *args], stdout=out, stderr=err)
    return code, json.loads(out.getvalue()), err.getvalue()


def test_status_of_a_converged_lab_has_no_drift_and_changes_nothing(lab, digest_of, tmp_path):
    before = {host: digest_of(lab.host_dir(host)) for host in ("mac1", "mac2")}

    code, doc, err = status(lab, "--html", str(tmp_path / "status.html"))

    assert code == 0, err + json.dumps(doc, indent=1)
    assert [h["host"] for h in doc["hosts"]] == ["mac1", "mac2"] and not doc["drift"]
    mac1 = {item["name"]: item for item in doc["hosts"][0]["items"]}
    assert mac1["build"]["value"] == "17C88" and mac1["webdriver_loaded"]["value"] != "not loaded"
    assert mac1["verify"]["value"] == "pass" and len(mac1["mxnet"]["value"]) == 64
    assert {host: digest_of(lab.host_dir(host)) for host in ("mac1", "mac2")} == before
    html = (tmp_path / "status.html").read_text()
    assert 'data-host="mac1"' in html and 'data-host="mac2"' in html and 'class="drift"' not in html


def test_status_names_a_mac_whose_build_changed_and_whose_driver_no_longer_loads(lab):
    import plistlib

    # What a security update leaves (helper H's `lab update` imitates it in full): another build in
    # SystemVersion.plist and NVIDIA's web driver not started, its NVDARequiredOS naming the old build.
    plist = lab.host_dir("mac2") / "root/System/Library/CoreServices/SystemVersion.plist"
    version = plistlib.loads(plist.read_bytes())
    version["ProductBuildVersion"] = "17C205"
    plist.write_bytes(plistlib.dumps(version))
    with lab.machine("mac2").edit() as state:
        state.build = "17C205"
        state.kexts = [k for k in state.kexts if k.bundle_id != "com.nvidia.NVDAStartupWeb"]

    code, doc, err = status(lab)

    assert code == 1, err
    mac1, mac2 = doc["hosts"]
    assert mac1["drift"] == []
    assert mac2["build"] == "17C205"
    assert {"webdriver_loaded", "required_os"} <= set(mac2["drift"]), mac2


def test_diagnose_bundle_holds_every_item_and_never_the_password(lab, tmp_path, monkeypatch):
    import getpass

    from egpu_setup.cli import main

    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: PASSWORD)
    out_dir = tmp_path / "bundles"
    out_dir.mkdir()
    err = io.StringIO()

    code = main(["diagnose", "-i", str(lab.inventory), "-K", "--limit", "mac1", "-o", str(out_dir)],
                stdout=io.StringIO(), stderr=err)  # fmt: skip

    assert code == 0, err.getvalue()
    (bundle,) = out_dir.iterdir()
    raw = bundle.read_bytes()
    with tarfile.open(bundle) as tar:
        members = {m.name.removeprefix("mac1/"): tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(members.pop("manifest.json"))
    assert {m["name"] for m in manifest["members"]} == set(members)
    for name in ("sw_vers.txt", "csrutil_status.txt", "kextstat_nvidia.txt", "nvda_required_os_webdriver.txt",
                 "nvram_nvda_drv.txt", "system_profiler_displays.txt", "system_profiler_thunderbolt.txt",
                 "journal.tsv", "verify.json", "last_run/ansible.log"):  # fmt: skip
        assert members[name].strip(), name
    assert b"17C88" in members["sw_vers.txt"] and b"NVDAStartupWeb" in members["kextstat_nvidia.txt"]
    assert json.loads(members["verify.json"])["summary"]["outcome"] == "pass"
    for entry in manifest["members"]:
        import hashlib

        assert hashlib.sha256(members[entry["name"]]).hexdigest() == entry["sha256"]
        assert entry["command"]
    assert PASSWORD.encode() not in raw
    assert all(PASSWORD.encode() not in data for data in members.values())
    assert Path(bundle).stat().st_size < 8 * 1024 * 1024
