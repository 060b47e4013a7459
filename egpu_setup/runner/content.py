"""Where the Ansible content (the egpu.mac collection: its playbooks, roles and plugins) lives on the controller."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from egpu_setup.errors import EgpuError

COLLECTION = "egpu.mac"
PLAYBOOKS = ("provision", "verify", "rollback")


@dataclass(frozen=True)
class Content:
    """A collections root: the directory that holds ansible_collections/egpu/mac (site-packages or the checkout)."""

    root: Path

    @property
    def collection_dir(self) -> Path:
        return self.root.joinpath("ansible_collections", *COLLECTION.split("."))

    @property
    def playbooks_dir(self) -> Path:
        return self.collection_dir / "playbooks"

    @property
    def roles_dir(self) -> Path:
        return self.collection_dir / "roles"

    def playbook(self, name: str) -> Path:
        path = self.playbooks_dir / f"{name}.yml"
        if not path.is_file():
            raise EgpuError(f"the playbook {path} is missing", fix="reinstall egpu-setup")
        return path

    def playbook_fqcn(self, name: str) -> str:
        """The collection playbook's name, as ansible-playbook takes it: egpu.mac.provision."""
        self.playbook(name)  # it must be there
        return f"{COLLECTION}.{name}"


def find_content() -> Content:
    """The collections root beside the `egpu_setup` package ($EGPU_SETUP_CONTENT overrides it).

    `egpu_setup` and `ansible_collections` are both top level: in site-packages when installed from the wheel, in
    the checkout when installed editable (scripts/setup). Taking the collection from beside the package keeps the
    Python code and the roles it runs of one installation.
    """
    override = os.environ.get("EGPU_SETUP_CONTENT")
    content = Content(Path(override) if override else Path(__file__).resolve().parents[2])
    if not content.playbooks_dir.is_dir():
        raise EgpuError(
            f"no {COLLECTION} collection with playbooks under {content.root}",
            fix="reinstall egpu-setup (pip install egpu-setup), or set EGPU_SETUP_CONTENT to a collections root",
        )
    return content
