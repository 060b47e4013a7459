"""mxnet_probe.py run for real in a child process with the MXNet 1.9.1 CPU wheel."""

from __future__ import annotations

import json
import subprocess
import sys

# The MXNet 1.9.1 CPU wheel is a test dependency (pyproject's `test` extra): without it these tests fail, not skip.


def _probe(tmp_path, repo_root, prelude: str, *flags: str) -> dict:
    out = tmp_path / "probe.json"
    code = (
        f"import sys; {prelude}; from egpu_setup.verify import mxnet_probe; "
        f"sys.exit(mxnet_probe.main([{str(out)!r}, *{list(flags)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


def test_locate_only_finds_the_wheel_library_without_importing(tmp_path, repo_root) -> None:
    result = _probe(tmp_path, repo_root, "pass", "--locate-only")
    assert result["library"].endswith("mxnet/libmxnet.so") and "import" not in result


def test_mxnet_before_1_5_has_no_runtime_features_and_the_gpu_is_asked(tmp_path, repo_root) -> None:
    # MXNet 1.0.0 (the default profile's) has no mxnet.runtime (1.5) and no context.num_gpus (1.3): the probe
    # must not need them. On this CPU wheel the GPU array is refused with MXNet's words, so: no CUDA.
    prelude = "import mxnet; del mxnet.runtime; del mxnet.context.num_gpus"
    result = _probe(tmp_path, repo_root, prelude, "--gpu", "--quick")
    assert result["features"] == {"CUDA": False} and result["num_gpus"] == 0
    assert result["features_source"].startswith("a GPU NDArray")
    assert result["gpu_array"]["ok"] is False
    assert "Compile with USE_CUDA=1 to enable GPU usage" in result["gpu_array"]["error"]
    assert result["ndarray"]["against"] == "numpy" and result["ndarray"]["ok"]
    assert result["train_cpu"]["ok"] and "train_gpu" not in result


def test_import_only_asks_the_gpu_and_computes_nothing(tmp_path, repo_root) -> None:
    result = _probe(tmp_path, repo_root, "pass", "--import-only")
    assert result["import"]["ok"] and result["features"] == {"CUDA": False}
    assert not {"ndarray", "train_cpu", "train_gpu"} & set(result)
