"""The argument spec of a module, read from its DOCUMENTATION: the options are written once, in the docs.

An action plugin validates its arguments with the spec built here from the module's DOCUMENTATION (with its
`extends_documentation_fragment` options merged as ansible-doc merges them), so what `ansible-doc` shows and what
the plugin accepts cannot drift apart. Only the keys that mean something to Ansible's argument validation are
kept (type, required, default, choices, elements, no_log, aliases; suboptions become `options`).
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import yaml

COLLECTION_PACKAGE = "ansible_collections.egpu.mac.plugins"
# Keys of a documented option that argument validation uses; description, version_added and the like are docs only.
SPEC_KEYS = ("type", "required", "default", "choices", "elements", "no_log", "aliases")
# Every task parses its module's DOCUMENTATION again: Ansible runs each task in a newly forked worker, so the cache
# below lives one task long. libyaml's loader (as Ansible's own, where PyYAML has it) takes a fraction of the time.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)  # a safe loader, chosen above


def option_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """One documented option -> its argument spec entry (`required: false` and `no_log: false` are the defaults)."""
    spec = {key: doc[key] for key in SPEC_KEYS if key in doc}
    for flag in ("required", "no_log"):
        if spec.get(flag) is False:
            del spec[flag]
    if "suboptions" in doc:
        spec["options"] = options_spec(doc["suboptions"])
    return spec


def options_spec(options: dict[str, Any] | None) -> dict[str, Any]:
    return {name: option_spec(doc or {}) for name, doc in (options or {}).items()}


def fragment_options(name: str) -> dict[str, Any]:
    """The options of a doc fragment named by its FQCN (`egpu.mac.journal`, or `egpu.mac.journal.VAR`)."""
    parts = name.split(".")
    if len(parts) not in (3, 4) or parts[:2] != ["egpu", "mac"]:
        raise ValueError(f"doc fragment {name!r}: only this collection's fragments (egpu.mac.NAME) are resolved")
    fragment = importlib.import_module(f"{COLLECTION_PACKAGE}.doc_fragments.{parts[2]}").ModuleDocFragment
    text = getattr(fragment, parts[3].upper() if len(parts) == 4 else "DOCUMENTATION")
    return dict((_load(text) or {}).get("options") or {})


def documented_options(documentation: str) -> dict[str, Any]:
    """The options a DOCUMENTATION string declares, its fragments' first (its own win, as in ansible-doc)."""
    doc = _load(documentation) or {}
    fragments = doc.get("extends_documentation_fragment") or []
    options: dict[str, Any] = {}
    for name in [fragments] if isinstance(fragments, str) else fragments:
        options.update(fragment_options(name))
    options.update(doc.get("options") or {})
    return options


def spec_from_documentation(documentation: str) -> dict[str, Any]:
    return options_spec(documented_options(documentation))


@cache
def module_spec(module: str) -> dict[str, Any]:
    """The argument spec of egpu.mac.MODULE, from plugins/modules/MODULE.py's DOCUMENTATION (read once)."""
    documentation = importlib.import_module(f"{COLLECTION_PACKAGE}.modules.{module}").DOCUMENTATION
    return spec_from_documentation(documentation)
