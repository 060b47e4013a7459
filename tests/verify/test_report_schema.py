"""The report schema rejects malformed reports: what the gpu_verify role and bench/verify_gpu.sh rely on."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from egpu_setup.verify.suite import CHECK_NAMES


def _check(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in document["checks"] if c["name"] == name)


def _drop(document: dict[str, Any], name: str) -> None:
    document["checks"] = [c for c in document["checks"] if c["name"] != name]


def _duplicate(document: dict[str, Any], name: str) -> None:
    document["checks"][-1] = copy.deepcopy(_check(document, name))


MALFORMED: dict[str, Callable[[dict[str, Any]], object]] = {
    "a check missing": lambda d: _drop(d, "gpu.compute"),
    "a check twice (one left out)": lambda d: _duplicate(d, "cuda.runtime"),
    "an unknown check added": lambda d: d["checks"].append({**_check(d, "cudnn"), "name": "gpu.extra"}),
    "pass with exit code 1": lambda d: d["summary"].update(exit_code=1),
    "fail with no failed check counted": lambda d: d["summary"].update(outcome="fail", exit_code=1, failed=0),
    "no_gpu without its reason": lambda d: d["summary"].update(outcome="no_gpu", exit_code=3),
    "GPU work beside a no-GPU reason": lambda d: d.update(no_gpu="libcuda.so.1 not found"),
    "SGEMM pass without GFLOPS": lambda d: _check(d, "gpu.compute")["measurements"].pop("gflops"),
    "SGEMM pass with 0 GFLOPS": lambda d: _check(d, "gpu.compute")["measurements"].update(gflops=0),
    "bandwidth pass as text": lambda d: _check(d, "link.bandwidth")["measurements"].update(h2d_gbps="53 GB/s"),
    "runtime pass without a version": lambda d: _check(d, "cuda.runtime")["measurements"].pop("version"),
    "skip without a reason": lambda d: _check(d, "mxnet.train").update(reason=""),
    "a status of its own": lambda d: _check(d, "cudnn").update(status="warn"),
    "a start time that is no time": lambda d: d.update(started="yesterday"),
}


def test_the_schema_names_every_check_of_the_suite(schema) -> None:
    named = [c["contains"]["properties"]["name"]["const"] for c in schema["properties"]["checks"]["allOf"]]
    assert named == list(CHECK_NAMES)


@pytest.mark.parametrize("damage", list(MALFORMED), ids=list(MALFORMED))
def test_a_malformed_report_is_rejected(damage, verify, h200, schema, validate) -> None:
    document = verify(h200()).to_dict()
    validate(document)  # whole, it is valid: what fails below is the damage
    MALFORMED[damage](document)
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(document)), damage
