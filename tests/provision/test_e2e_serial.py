"""Issue 12's acceptance for lab runs: on a 4-Mac lab with an installer fault on mac1, `provision --serial 2
--max-fail-percent 0` stops after the first batch and says so (exit 1); mac3 and mac4 are "not run" and untouched."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.slow]

HOSTS = ["mac1", "mac2", "mac3", "mac4"]


def test_serial_2_with_max_fail_0_stops_after_the_failing_batch(tmp_path, make_lab, cli, digest_of):
    with make_lab(tmp_path, hosts=len(HOSTS)) as lab:
        # the first installer run on mac1 fails: python_bootstrap's, the earliest change of the play
        fault = cli("lab", "fault", "mac1", "--dir", str(lab.dir), "--fail-install", "1")
        assert fault.code == 0, fault.err
        before = {host: digest_of(lab.host_dir(host)) for host in ("mac3", "mac4")}

        done = cli("provision", "--rehearse", "--lab-dir", str(lab.dir), "--serial", "2", "--max-fail-percent", "0",
                   "--json")  # fmt: skip

        report = json.loads(done.out)
        assert done.code == 1, done.err
        status = {name: host["status"] for name, host in report["hosts"].items()}
        assert status == {"mac1": "failed", "mac2": "ok", "mac3": "not run", "mac4": "not run"}, done.err
        assert report["hosts"]["mac1"]["failures"][0]["role"] == "python_bootstrap"
        assert report["batches"] == {"serial": 2, "run": 1, "total": 2} and report["forks"] == 2
        stop = "stopped after batch 1 of 2: mac1 failed and --max-fail-percent is 0; not run: mac3, mac4"
        assert report["stopped_early"] == stop and stop in done.err  # the summary (on stderr with --json) says it
        assert {host: digest_of(lab.host_dir(host)) for host in ("mac3", "mac4")} == before
