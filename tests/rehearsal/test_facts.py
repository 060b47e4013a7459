"""The facts table (egpu_lab.facts): every row sourced, and the roles and the matrix held to it.

The roles' identifiers are compared with the table written from the real packages, never with the stand-ins (which
are built from the same table and tested against it in their own tests): a role that expects what the real artifact
does not have fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from egpu_lab import facts
from egpu_setup.matrix import load_matrix

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "ansible_collections/egpu/mac/roles"


def _role_default(role: str, var: str) -> Any:
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    assert var in defaults, f"role {role} has no default {var}"
    return defaults[var]


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        assert isinstance(value, dict) and part in value, f"no field {path}"
        value = value[part]
    return value


def test_every_fact_has_a_source_and_a_confidence() -> None:
    rows = facts.all_facts()
    assert rows, "the facts table is empty"
    for row in rows:
        assert row.source and row.confidence in facts.CONFIDENCE, row.key


@pytest.mark.parametrize(
    "fact", [f for f in facts.all_facts() if f.role_vars], ids=lambda f: f.key
)  # fmt: skip
def test_role_defaults_equal_the_real_identifiers(fact: facts.Fact) -> None:
    for ref in fact.role_vars:
        role, var = ref.split(":")
        assert _role_default(role, var) == fact.value, f"{ref} differs from {fact.key} ({fact.source})"


@pytest.mark.parametrize(
    "fact", [f for f in facts.all_facts() if f.matrix], ids=lambda f: f.key
)  # fmt: skip
def test_matrix_fields_equal_the_real_identifiers(fact: facts.Fact) -> None:
    artifacts = load_matrix().artifacts
    for ref in fact.matrix:
        key, path = ref.split(":")
        artifact_id, version = key.split("@")
        assert (artifact_id, version) in artifacts, f"the matrix has no {key}"
        assert _dig(artifacts[(artifact_id, version)].fields, path) == fact.value, f"{ref} differs from {fact.key}"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"value": 1, "confidence": "high"}, "has no source"),
        ({"value": 1, "source": " ", "confidence": "high"}, "has no source"),
        ({"value": 1, "source": "x", "confidence": "sure"}, "confidence must be"),
        ({"source": "x", "confidence": "high"}, "has no value"),
        ({"value": 1, "source": "x", "confidence": "high", "role_vars": ["novar"]}, "role_vars"),
        ({"value": 1, "source": "x", "confidence": "high", "matrix": ["clt:receipt"]}, "matrix must be"),
        ({"value": 1, "source": "x", "confidence": "high", "extra": 1}, "unknown keys"),
    ],
)
def test_a_malformed_row_is_refused(tmp_path: Path, bad: dict[str, Any], message: str) -> None:
    path = tmp_path / "thing.yaml"
    path.write_text(yaml.safe_dump({"product": "thing", "facts": {"row": bad}}))
    with pytest.raises(facts.FactsError, match=message):
        facts.load_file(path)


def test_the_product_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "thing.yaml"
    path.write_text(yaml.safe_dump({"product": "other", "facts": {}}))
    with pytest.raises(facts.FactsError, match="does not match"):
        facts.load_file(path)


def test_the_matrix_enablers_are_learex_rows() -> None:
    """Every egpu_support entry of the matrix is a package of learex's list, with its builds, zip, URL and SHA-512."""
    rows = facts.value("egpu_support", "enablers")
    entries = {a.version: a for a in load_matrix().artifacts.values() if a.id == "egpu_support"}
    assert set(entries) == set(rows)
    for version, row in rows.items():
        entry = entries[version]
        assert list(entry.builds) == row["builds"], version
        assert (entry.fields["package"], entry.filename, entry.url, entry.sha512) == (
            row["package"], row["zip"], row["url"], row["sha512"]
        ), version  # fmt: skip
        assert entry.sha256 is None, f"{version}: egpu.io publishes no SHA-256"


def test_the_roles_kext_ids_and_paths_are_the_real_packages() -> None:
    """The kexts whose versions the reboot check compares, and the paths the roles patch, are those of the real
    packages (web driver: the ids NVDAEGPUSupport's required-bundles name; enabler: its bundle id)."""
    web = facts.value("webdriver", "kexts")
    reboot = {k["id"]: k["plist"]["path"] for k in _role_default("egpu_common", "egpu_common_reboot_kexts")}
    startup = _role_default("egpu_common", "egpu_common_webdriver_kext")
    assert startup == web["NVDAStartupWeb"]["path"] == facts.value("webdriver", "startup_kext_path")
    assert web["NVDAStartupWeb"]["id"] in reboot
    assert facts.value("egpu_support", "bundle_id") in reboot
    assert facts.value("egpu_support", "required_web_kexts") == {
        name: web[name] for name in ("NVDAStartupWeb", "NVDAResmanWeb", "NVDAResmanTeslaWeb")
    }
    # The enabler role's preinstall checks are the real script's, word for word (role_vars rows above), and its
    # probe greps exactly those lines.
    probe = _role_default("egpu_support", "egpu_support_sip_probe")
    assert "csrutil status | egrep -q" in probe and "egpu_support_sip_lines" in probe


def test_the_v6_placeholder_is_the_web_drivers_so_the_stand_ins_agree() -> None:
    v6 = facts.fact("egpu_support", "required_web_kext_version_6")
    carried = facts.value("webdriver", "kext_short_versions")["387.10.10.10.25.156"]
    assert v6.value == carried and v6.confidence == "low"
    assert facts.fact("webdriver", "kext_short_versions").confidence == "low"


def test_the_command_shims_own_constants_are_the_facts_tables() -> None:
    """The imitated commands run as a process each, so they keep the few identifiers they need as constants
    instead of loading the table per command; this holds every such constant to its facts row."""
    from egpu_lab import kexts
    from egpu_lab.macos import toolchain

    web = facts.value("webdriver", "kexts")
    names = ("NVDAStartupWeb", "GeForceWeb", "NVDAResmanWeb", "NVDAResmanTeslaWeb")
    shims = (kexts.WEB_NVDA, kexts.WEB_GEFORCE, kexts.WEB_RESMAN, kexts.WEB_RESMAN_TESLA)
    assert tuple(web[name]["id"] for name in names) == shims
    assert facts.value("egpu_support", "bundle_id") == kexts.EGPU_SUPPORT
    assert facts.value("cuda_driver", "kext_bundle_id") == kexts.CUDA_KEXT
    assert facts.value("clt", "receipt_id") == toolchain.CLT_RECEIPT
    assert toolchain.CLANG_VERSIONS["9.2"][1] == facts.value("clt", "clang_build_9_2")
