"""For the modules that run on the Mac with the egpu-setup target tools' Python (they import egpu_setup): the one
failure when they were started with another interpreter."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import missing_required_lib

TOOLS_PYTHON = "/usr/local/egpu-setup/venv/bin/python"


def fail_without_tools(module: Any, what: str, error: BaseException | None) -> None:
    """Fail the module when `error` (the ImportError of egpu_setup) is set, saying which interpreter to use."""
    if error is None:
        return
    module.fail_json(
        msg=missing_required_lib(f"{what} (the egpu-setup target tools)")
        + f". Run this module with ansible_python_interpreter={TOOLS_PYTHON}, which the python_bootstrap role"
        " installs.",
        exception=str(error),
    )
