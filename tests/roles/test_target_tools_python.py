"""The Mac-side modules (macho_rpaths, build_archive) started without the target tools' Python fail saying which
interpreter to use; with it they go on."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.egpu.mac.plugins.module_utils.target_tools_python import TOOLS_PYTHON, fail_without_tools


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self) -> None:
        self.failed: dict[str, Any] | None = None

    def fail_json(self, **result: Any) -> None:
        self.failed = result
        raise Failed


def test_a_missing_egpu_setup_names_the_tools_interpreter() -> None:
    module = FakeModule()
    with pytest.raises(Failed):
        fail_without_tools(module, "egpu_setup", ImportError("No module named 'egpu_setup'"))
    assert module.failed is not None
    assert f"ansible_python_interpreter={TOOLS_PYTHON}" in module.failed["msg"]
    assert "egpu_setup (the egpu-setup target tools)" in module.failed["msg"]
    assert "No module named 'egpu_setup'" in module.failed["exception"]


def test_with_the_tools_nothing_fails() -> None:
    module = FakeModule()
    fail_without_tools(module, "egpu_setup", None)
    assert module.failed is None
