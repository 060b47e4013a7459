"""Where the Ansible content (playbooks/, roles/, the egpu.mac collection) lives on the controller."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from egpu_setup.errors import EgpuError

PLAYBOOKS = ("provision", "verify", "rollback")


@dataclass(frozen=True)
class Content:
    """The project root: it holds ansible.cfg, playbooks/, roles/ and ansible_collections/."""

    root: Path

    @property
    def playbooks_dir(self) -> Path:
        return self.root / "playbooks"

    @property
    def roles_dir(self) -> Path:
        return self.root / "roles"

    def playbook(self, name: str) -> Path:
        path = self.playbooks_dir / f"{name}.yml"
        if not path.is_file():
            raise EgpuError(f"the playbook {path} is missing", fix="reinstall egpu-setup (scripts/setup)")
        return path


def find_content() -> Content:
    """The project root next to the `egpu_setup` package ($EGPU_SETUP_CONTENT overrides it).

    The playbooks and roles are not Python package data: they sit beside the package in the source tree,
    which an editable install (scripts/setup) uses in place.
    """
    override = os.environ.get("EGPU_SETUP_CONTENT")
    root = Path(override) if override else Path(__file__).resolve().parents[2]
    if not (root / "playbooks").is_dir():
        raise EgpuError(
            f"no playbooks/ under {root}",
            fix="run egpu-setup from its source tree installed with scripts/setup, or set EGPU_SETUP_CONTENT",
        )
    return Content(root)
