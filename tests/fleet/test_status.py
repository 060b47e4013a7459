"""status's records, drift, JSON schema, terminal table and HTML page, and diagnose's bundle, on facts as the
facts play returns them (no lab: fast). The lab runs are in tests/provision/test_e2e_fleet.py."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import jsonschema
import pytest

from egpu_setup.fleet import diagnose
from egpu_setup.fleet.html import render_html
from egpu_setup.fleet.status import HostStatus, host_statuses, status_document
from egpu_setup.runner.plans import PlanInputs

SCHEMA = Path(__file__).parents[2] / "egpu_setup/fleet/status.schema.json"
BANDWIDTH = {"h2d_gbps": 2.8, "d2h_gbps": 2.9, "theoretical_gbps": 3.94}
VERIFY = {"started": "2026-01-02T03:04:05Z",
          "summary": {"outcome": "pass", "exit_code": 0, "passed": 2, "failed": 0, "skipped": 0},
          "checks": [{"name": "link.bandwidth", "status": "pass", "measurements": BANDWIDTH},
                     {"name": "cudnn", "status": "pass", "measurements": {}}]}  # fmt: skip


def converged(build: str = "17C88") -> dict:
    """egpu_mac of a provisioned 17C88 Mac, as egpu.mac.mac_facts reports it."""
    return {
        "build": build, "product_version": "10.13.2", "sip": {"status": "enabled"}, "kext_signing_enforced": False,
        "filevault": {"status": "FileVault is Off."}, "nvda_drv_on": True,
        "receipts": {"com.nvidia.web-driver": "387.10.10.10.25.156", "com.apple.pkg.CLTools_Executables":
                     "9.2.0.0.1.1510905681"},
        "kexts_loaded": {"com.nvidia.NVDAStartupWeb": "10.3.1", "com.nvidia.CUDA": "1.1.0"},
        "plists": {"webdriver_required_os": build, "cuda_driver": "387.128"},
        "nvidia_gpu": {"chipset_model": "NVIDIA GeForce GTX 1080", "device_id": 0x1B80, "lane_width": "x4"},
        "thunderbolt_enclosures": [{"speed": "Up to 40 Gb/s x1"}], "nvcc_version": "9.1.128",
        "xcode_select_path": "/Library/Developer/CommandLineTools",
        "probes": {"cudnn_version": {"rc": 0, "stdout": "7.0.5"}, "mxnet_sha256": {"rc": 0, "stdout": "ab" * 32},
                   "verify_report": {"rc": 0, "stdout": json.dumps(VERIFY)}},
    }  # fmt: skip


def statuses(macs: dict[str, dict], failed: dict[str, str] | None = None) -> list[HostStatus]:
    inputs = {host: PlanInputs(build=mac["build"], gpu="0x1b80") for host, mac in macs.items()}
    return host_statuses(["mac1", "mac2", *sorted(failed or {})], macs, inputs, failed or {})


def test_a_converged_mac_has_no_drift_and_the_document_matches_its_schema():
    found = statuses({"mac1": converged(), "mac2": converged()})
    assert [s.drift for s in found] == [[], []]
    document = {"schema_version": 1, "kind": "lab_status", **status_document(found)}
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert document["drift"] is False
    assert found[0].verify["figures"]["link.bandwidth.h2d_gbps"] == 2.8


def test_an_updated_build_names_the_build_and_the_driver_not_loaded():
    mac = converged("17C205")
    mac["plists"]["webdriver_required_os"] = "17C88"
    del mac["kexts_loaded"]["com.nvidia.NVDAStartupWeb"]
    found = statuses({"mac1": converged(), "mac2": mac}, failed={"mac3": "unreachable"})
    assert found[0].drift == []
    assert {"webdriver_loaded", "required_os"} <= set(found[1].drift)
    assert found[1].build == "17C205"
    assert found[2].drift == ["reachable"] and not found[2].reachable
    jsonschema.validate({"schema_version": 1, "kind": "lab_status", **status_document(found)},
                        json.loads(SCHEMA.read_text()))  # fmt: skip


def test_a_missing_verify_report_and_another_cuda_are_drift():
    mac = converged()
    mac["nvcc_version"] = "9.0.176"
    mac["probes"]["verify_report"] = {"rc": 1, "stdout": ""}
    (found, _) = statuses({"mac1": mac, "mac2": converged()})
    assert set(found.drift) == {"cuda_toolkit", "verify"}


def test_the_terminal_table_marks_drift():
    from rich.console import Console

    mac = converged()
    mac["nvcc_version"] = "9.0.176"
    out = io.StringIO()
    from egpu_setup.fleet.table import print_table

    print_table(Console(file=out, width=200), statuses({"mac1": mac, "mac2": converged()}))
    assert "! mac1: cuda_toolkit is 9.0.176, expected 9.1.128" in out.getvalue()
    assert "drift on: mac1" in out.getvalue()


def page(tmp_path: Path) -> Path:
    mac = converged("17C205")
    mac["plists"]["webdriver_required_os"] = "17C88"
    del mac["kexts_loaded"]["com.nvidia.NVDAStartupWeb"]
    path = tmp_path / "status.html"
    path.write_text(render_html(statuses({"mac1": converged(), "mac2": mac}), "now"))
    return path


def test_the_page_is_self_contained():
    html = render_html(statuses({"mac1": converged(), "mac2": converged()}), "now")
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert "<script" not in html and "<link" not in html and "<svg" in html


def test_the_page_rendered_by_headless_chromium_shows_a_row_per_mac_and_the_drift_mark(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; scripts/setup installs it (Debian package chromium)")
        pytest.skip("chromium is not installed (scripts/setup installs it)")
    path = page(tmp_path)
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    from html.parser import HTMLParser

    rows: dict[str, str] = {}
    drift_cells: list[str] = []

    class Reader(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attributes = dict(attrs)
            if tag == "tr" and "data-host" in attributes:
                rows[attributes["data-host"]] = attributes.get("class", "")
            if tag == "td" and "drift" in (attributes.get("class") or "").split():
                drift_cells.append(tag)

    Reader().feed(dom)
    assert rows == {"mac1": "host", "mac2": "host drift"}
    assert len(drift_cells) >= 2  # the driver not loaded, NVDARequiredOS 17C88 against 17C205
    assert '<span class="mark">!</span> mac2' in dom


def test_redact_removes_the_password_and_password_like_values():
    text = "ok BECOME password: hunter2\nansible_become_password=hunter2 x\n{\"password\": \"s3cret\"}\n"
    text += "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n"
    out = diagnose.redact(text, ["hunter2"])
    for secret in ("hunter2", "s3cret", "abc"):
        assert secret not in out


def test_a_bundle_caps_members_and_its_manifest_names_each(tmp_path):
    mac = converged()
    mac["probes"]["journal"] = {"rc": 0, "stdout": "x" * (diagnose.MAX_MEMBER_BYTES + 10), "cmd": "head -c ..."}
    path = diagnose.write_bundle(tmp_path, "mac1", mac, tmp_path / "runs", [])
    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile("mac1/manifest.json").read())
        members = {m["name"]: m for m in manifest["members"]}
        assert members["journal.tsv"]["truncated"] and members["journal.tsv"]["size"] == diagnose.MAX_MEMBER_BYTES
        assert len(tar.extractfile("mac1/journal.tsv").read()) == diagnose.MAX_MEMBER_BYTES
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_status_html_through_a_symlink_and_diagnose_into_a_link_are_refused(tmp_path):
    from egpu_setup.cli import main

    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    mac1: {}\n")
    target = tmp_path / "target.html"
    target.write_text("keep")
    (tmp_path / "link.html").symlink_to(target)
    (tmp_path / "dirlink").symlink_to(tmp_path)
    err = io.StringIO()
    assert main(["status", "-i", str(inventory), "--html", str(tmp_path / "link.html")], io.StringIO(), err) == 2
    assert "symbolic link" in err.getvalue() and target.read_text() == "keep"
    err = io.StringIO()
    assert main(["diagnose", "-i", str(inventory), "-o", str(tmp_path / "dirlink")], io.StringIO(), err) == 2
    assert "symbolic link" in err.getvalue()
    assert main(["diagnose", "-i", str(inventory), "-o", str(target)], io.StringIO(), io.StringIO()) == 2


def test_a_library_other_than_the_labs_build_is_drift(tmp_path):
    from egpu_setup.builds.archive import build_key, pack
    from egpu_setup.cache import Cache, Lock
    from egpu_setup.matrix.model import Artifact

    root = tmp_path / "mxnet-1.0.0"
    (root / "lib").mkdir(parents=True)
    (root / "lib/libmxnet.so").write_bytes(b"the lab's build")
    key = build_key("mxnet", "1.0.0", {})
    archive = tmp_path / "build.tar.gz"
    with archive.open("wb") as out:
        packed = pack(root, ["lib/libmxnet.so"], out, name="mxnet", version="1.0.0", key=key, inputs={})
    artifact = Artifact({"id": "mxnet_build", "version": f"1.0.0+{key}", "filename": "mxnet.tar.gz"})
    Cache(tmp_path / "cache").add_file(archive, artifact)
    lock = Lock(tmp_path / "egpu-setup.lock")
    lock.record_build(artifact, packed.sha256, packed.size, "mac1")
    lock.save()
    lab_digest = packed.manifest["files"][0]["sha256"]
    other = converged()
    good = converged()
    good["probes"]["mxnet_sha256"] = {"rc": 0, "stdout": lab_digest}
    inputs = {h: PlanInputs(build="17C88", gpu="0x1b80", cache_dir=str(tmp_path / "cache"), lock_file=str(lock.path))
              for h in ("mac1", "mac2")}  # fmt: skip

    found = host_statuses(["mac1", "mac2"], {"mac1": good, "mac2": other}, inputs, {})

    assert found[0].drift == [] and found[1].drift == ["mxnet"]
    item = next(i for i in found[1].items if i.name == "mxnet")
    assert item.expected == lab_digest and "lab's build" in item.note
