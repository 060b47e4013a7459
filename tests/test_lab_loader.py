"""Without the rehearsal lab (the `[lab]` extra), `egpu-setup lab` and `--rehearse` exit 2 and name the extra."""

from __future__ import annotations

import subprocess
import sys

import pytest

from egpu_setup import lab_loader
from egpu_setup.errors import EgpuError, ExitCode

# A Python in which egpu_lab cannot be imported, as in an install without the extra: a meta-path finder that
# refuses it, ahead of the editable install's finders.
NO_LAB = """
import sys
class NoLab:
    def find_spec(self, name, path=None, target=None):
        if name == "egpu_lab" or name.startswith("egpu_lab."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NoLab())
from egpu_setup.cli import entry_point
sys.argv = ["egpu-setup", *sys.argv[1:]]
entry_point()
"""


@pytest.mark.parametrize(
    "argv",
    [["lab", "status"], ["lab", "up", "--hosts", "1"], ["provision", "--rehearse"], ["plan", "--rehearse"]],
)
def test_without_the_lab_the_commands_exit_2_naming_the_extra(argv, tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_LAB, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == ExitCode.USAGE == 2, done.stderr
    assert "error: the rehearsal lab is not installed" in done.stderr
    assert "fix: pip install 'egpu-setup[lab]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_loader_gives_the_labs_modules_when_it_is_installed() -> None:
    lab = lab_loader.load("lab")
    assert lab.__name__ == "egpu_lab.lab" and hasattr(lab, "Lab")


def test_a_broken_module_inside_an_installed_lab_is_not_reported_as_a_missing_lab() -> None:
    with pytest.raises(ModuleNotFoundError) as raised:
        lab_loader.load("no_such_module")
    assert not isinstance(raised.value, EgpuError) and raised.value.name == "egpu_lab.no_such_module"
