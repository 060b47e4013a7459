"""status and diagnose on one converged 4-Mac rehearsal lab (issue 14's acceptance), shared by the module: the Macs'
sudo asks for a password, so every run here is made with -K.

converged: status exits 0 without drift and changes nothing; a diagnose bundle holds every item support asks for
and never the password -> `egpu-setup lab update mac2 --build 17C205`: status exits 1 and names mac2's build and its
web driver not loaded, the other Macs without drift -> provision: status exits 0 again and mac2's verify passes.
The lab's runs and their seconds are printed at the end (the lab is the cost of this module)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PASSWORD = "lab-secret-Pw-4711"
HOSTS = ["mac1", "mac2", "mac3", "mac4"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, make_lab):
    import getpass

    from egpu_lab.accounts import hash_password

    with make_lab(tmp_path_factory.mktemp("fleet"), hosts=len(HOSTS), sudo_password=True,
                  password_hash=hash_password(PASSWORD)) as lab, pytest.MonkeyPatch.context() as env:  # fmt: skip
        env.setattr(getpass, "getpass", lambda prompt="", stream=None: PASSWORD)
        env.setattr("egpu_setup.cli.run_command.has_terminal", lambda: True)  # -K prompts on a terminal only
        code, _report, err, _ = lab.run("provision", "-K")
        assert code == 0, err
        yield lab
    print("\nfleet e2e runs:", lab.runs)


def status(lab, *args: str) -> tuple[int, dict, str]:
    import time

    from egpu_setup.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = main(["status", "-i", str(lab.inventory), "-K", "--json", *args], stdout=out, stderr=err)
    lab.runs.append({"command": "status", "args": args, "code": code, "seconds": round(time.monotonic() - started, 1)})
    return code, json.loads(out.getvalue()), err.getvalue()


def items(host: dict) -> dict[str, dict]:
    return {item["name"]: item for item in host["items"]}


def test_status_of_a_converged_lab_has_no_drift_and_changes_nothing(lab, digest_of, tmp_path):
    before = {host: digest_of(lab.host_dir(host)) for host in HOSTS}

    code, doc, err = status(lab, "--html", str(tmp_path / "status.html"))

    assert code == 0, err + json.dumps(doc, indent=1)
    assert [h["host"] for h in doc["hosts"]] == HOSTS and not doc["drift"]
    for host in doc["hosts"]:
        read = items(host)
        assert host["drift"] == [] and read["build"]["value"] == "17C88", host
        assert read["webdriver_loaded"]["value"] != "not loaded"
        assert read["verify"]["value"] == "pass" and len(read["mxnet"]["value"]) == 64
    assert {host: digest_of(lab.host_dir(host)) for host in HOSTS} == before
    html = (tmp_path / "status.html").read_text()
    assert all(f'data-host="{host}"' in html for host in HOSTS) and 'class="drift"' not in html


def test_diagnose_bundle_holds_every_item_and_never_the_password(lab, tmp_path, monkeypatch):
    import getpass

    from egpu_setup.cli import main

    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: PASSWORD)
    monkeypatch.setattr("egpu_setup.cli.run_command.has_terminal", lambda: True)  # -K prompts on a terminal only
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
        assert hashlib.sha256(members[entry["name"]]).hexdigest() == entry["sha256"]
        assert entry["command"]
    assert PASSWORD.encode() not in raw
    assert all(PASSWORD.encode() not in data for data in members.values())
    assert Path(bundle).stat().st_size < 8 * 1024 * 1024


@pytest.fixture(scope="module")
def updated(lab):
    """`egpu-setup lab update mac2 --build 17C205`, the command an admin rehearses a security update with."""
    from egpu_setup.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["lab", "update", "mac2", "--build", "17C205", "--dir", str(lab.dir)], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_status_after_a_macos_update_names_the_build_and_the_driver_not_loaded(lab, updated):
    code, doc, err = status(lab)

    assert code == 1, err
    by_host = {host["host"]: host for host in doc["hosts"]}
    assert doc["drift"] and {h for h in by_host if by_host[h]["drift"]} == {"mac2"}, doc["drift"]
    mac2 = by_host["mac2"]
    assert mac2["build"] == "17C205" and items(mac2)["build"]["value"] == "17C205"
    assert items(mac2)["webdriver_loaded"]["value"] == "not loaded"
    assert {"webdriver_loaded", "required_os"} <= set(mac2["drift"]), mac2


@pytest.fixture(scope="module")
def reprovisioned(lab, updated):
    code, report, err, _ = lab.run("provision", "-K")
    assert code == 0, err
    return report


def test_provision_after_the_update_brings_status_back_to_no_drift_and_verify_passes(lab, reprovisioned):
    assert reprovisioned["hosts"]["mac2"]["verify"]["summary"]["outcome"] == "pass"
    assert all(reprovisioned["hosts"][host]["changed"] == 0 for host in HOSTS if host != "mac2")

    code, doc, err = status(lab)

    assert code == 0, err + json.dumps(doc, indent=1)
    assert not doc["drift"]
    mac2 = items({h["host"]: h for h in doc["hosts"]}["mac2"])
    assert mac2["build"]["value"] == "17C205" and mac2["webdriver_loaded"]["value"] != "not loaded"
    assert mac2["verify"]["value"] == "pass"
