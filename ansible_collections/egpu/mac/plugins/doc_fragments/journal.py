"""The option every journal-keeping action of egpu.mac shares (extends_documentation_fragment: egpu.mac.journal)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  state_dir:
    description:
      - The provisioning journal on the Mac, with the backups of the files provisioning replaced (see
        module_utils/journal.py); rollback restores from it.
    type: str
    default: /private/var/db/egpu-setup
"""
