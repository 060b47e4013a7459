"""`egpu-setup verify` for real on this machine (no NVIDIA GPU or driver): exit codes, messages, JSON, --cpu-ok."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys

import pytest

from egpu_setup.verify.suite import CHECK_NAMES

HAS_DRIVER = bool(ctypes.util.find_library("cuda") or ctypes.util.find_library("nvidia-ml"))
no_gpu_here = pytest.mark.skipif(HAS_DRIVER, reason="this machine has an NVIDIA driver")


@pytest.fixture(autouse=True)
def _not_a_rehearsal_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EGPU_REHEARSAL", raising=False)


@no_gpu_here
def test_no_gpu_exits_3_with_the_reason_and_skips_gpu_checks(cli, tmp_path, validate) -> None:
    report_path = tmp_path / "verify.json"
    result = cli("verify", "--json", str(report_path))
    assert result.code == 3
    assert "error: no NVIDIA GPU or driver found: libcuda.so.1 (NVIDIA driver) not found; NVML: " in result.err
    assert "fix: connect and power the eGPU" in result.err and "--cpu-ok" in result.err
    assert "Traceback" not in result.err
    assert "gpu.present" in result.out and "NO GPU: " in result.out
    document = json.loads(report_path.read_text())
    validate(document)
    checks = {c["name"]: c for c in document["checks"]}
    assert list(checks) == list(CHECK_NAMES)
    assert document["summary"]["outcome"] == "no_gpu" and document["summary"]["exit_code"] == 3
    assert checks["gpu.present"]["status"] == "skip"
    assert checks["gpu.present"]["reason"].startswith("no NVIDIA GPU or driver (libcuda.so.1 (NVIDIA driver) not found")
    for name in ("cuda.driver", "link.bandwidth", "gpu.compute"):
        assert (checks[name]["status"], checks[name]["reason"]) == ("skip", "no GPU (see gpu.present)")
    assert checks["mxnet.train"]["reason"] == "no GPU (see gpu.present); --cpu-ok runs the MXNet checks on the CPU"
    assert [c for c in document["checks"] if c["status"] == "fail"] == []


@no_gpu_here
def test_json_on_stdout_is_the_same_document_and_the_table_goes_to_stderr(cli, tmp_path, validate) -> None:
    result = cli("verify", "--json", "-")
    assert result.code == 3
    document = json.loads(result.out)
    validate(document)
    assert document["kind"] == "verify" and document["schema_version"] == 1
    assert "gpu.present" in result.err
    on_file = tmp_path / "v.json"
    cli("verify", "--json", str(on_file))
    from_file = json.loads(on_file.read_text())
    for volatile in ("started",):
        document.pop(volatile), from_file.pop(volatile)
    for check in document["checks"] + from_file["checks"]:
        check.pop("duration_s")
    assert document == from_file


def test_bad_json_path_and_unknown_profile_are_usage_errors(cli, tmp_path) -> None:
    missing_dir = cli("verify", "--json", str(tmp_path / "no" / "such" / "v.json"))
    assert missing_dir.code == 2 and "does not exist" in missing_dir.err and "fix: mkdir -p" in missing_dir.err
    directory = cli("verify", "--json", str(tmp_path))
    assert directory.code == 2 and "is a directory" in directory.err
    profile = cli("verify", "--profile", "nonesuch")
    assert profile.code == 2 and "unknown profile 'nonesuch'" in profile.err and "default" in profile.err
    assert not list(tmp_path.iterdir())


@no_gpu_here
@pytest.mark.parametrize("module", ["egpu_setup.verify", "egpu_setup"])
def test_python_m_without_rich_or_yaml_prints_plain_text(module, tmp_path, repo_root, validate) -> None:
    """The target's venv has neither rich nor PyYAML: `python -m egpu_setup.verify` (what the gpu_verify role runs
    on a Mac, whose tools bundle has no CLI) and `python -m egpu_setup verify` must still print its table,
    judge against the default profile (the built-in copy of the matrix's figures) and write its report."""
    report_path = tmp_path / "v.json"
    argv = [module, *(["verify"] if module == "egpu_setup" else []), "--profile", "default", "--json", str(report_path)]
    code = (
        "import runpy, sys; sys.modules['rich'] = None; sys.modules['yaml'] = None; "
        f"sys.argv = {argv!r}; runpy.run_module({module!r}, run_name='__main__')"
    )
    env = {k: v for k, v in os.environ.items() if k != "EGPU_REHEARSAL"}
    done = subprocess.run([sys.executable, "-c", code], cwd=repo_root, env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("egpu-setup verify: ") and lines[-1].startswith("NO GPU: ")
    assert any(line.split()[:2] == ["gpu.present", "skip"] for line in lines)
    document = json.loads(report_path.read_text())
    validate(document)
    assert document["expectations"]["cuda_runtime"] == "9.1" and document["expectations"]["cudnn"] == "7.0.5"


@pytest.mark.slow
@no_gpu_here
def test_cpu_ok_runs_mxnet_for_real_on_the_cpu_and_passes(cli, tmp_path, validate) -> None:
    report_path = tmp_path / "verify.json"
    result = cli("verify", "--cpu-ok", "--quick", "--json", str(report_path))
    assert result.code == 0, result.err
    assert "the MXNet checks ran on the CPU (--cpu-ok)" in result.err
    document = json.loads(report_path.read_text())
    validate(document)
    checks = {c["name"]: c for c in document["checks"]}
    assert document["device"] == "cpu" and document["summary"]["outcome"] == "pass"
    assert checks["gpu.present"]["reason"].startswith("no GPU: --cpu-ok given")
    assert checks["gpu.compute"]["reason"] == "no GPU: --cpu-ok given"
    for name in ("mxnet.import", "mxnet.features", "mxnet.ndarray", "mxnet.train"):
        assert checks[name]["status"] == "pass", checks[name]
    assert checks["mxnet.import"]["measurements"]["version"] == "1.9.1"
    assert checks["mxnet.features"]["measurements"]["features"]["CUDA"] is False
    assert checks["mxnet.ndarray"]["measurements"]["against"] == "numpy"
    train = checks["mxnet.train"]["measurements"]
    assert train["device"] == "cpu" and train["loss_last"] < train["loss_first"] and train["images_per_s_cpu"] > 0
