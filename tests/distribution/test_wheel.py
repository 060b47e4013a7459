"""The wheel is the product: it holds the egpu.mac collection (roles, playbooks, plugins) beside egpu_setup, the
collection builds for Galaxy, and an install of the wheel alone, outside the checkout, provisions from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "ansible_collections/egpu/mac"
BIN = Path(sys.executable).parent
ROLES = sorted(p.name for p in (COLLECTION / "roles").iterdir() if (p / "tasks/main.yml").is_file())
PLAYBOOKS = ("provision", "rollback", "verify")
# The distributions this checkout makes: the product, and the lab beside it once it has its own project.
PROJECTS = [p for p in (ROOT, ROOT / "lab") if (p / "pyproject.toml").is_file()]


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of each project into one directory (outside the checkout)."""
    out = tmp_path_factory.mktemp("wheels")
    for project in PROJECTS:
        done = run(str(BIN / "pip"), "wheel", "--no-deps", "-q", "-w", str(out), str(project))
        assert done.returncode == 0, done.stdout + done.stderr
    return out


def product_wheel(wheels: Path) -> Path:
    (wheel,) = wheels.glob("egpu_setup-*.whl")
    return wheel


def test_the_wheel_holds_the_collection_with_its_roles_and_playbooks(wheels: Path) -> None:
    with zipfile.ZipFile(product_wheel(wheels)) as wheel:
        names = set(wheel.namelist())
    base = "ansible_collections/egpu/mac"
    assert ROLES and {f"{base}/roles/{role}/tasks/main.yml" for role in ROLES} <= names
    assert {f"{base}/roles/{role}/meta/main.yml" for role in ROLES} <= names
    assert {f"{base}/playbooks/{name}.yml" for name in PLAYBOOKS} <= names
    assert {f"{base}/meta/runtime.yml", f"{base}/galaxy.yml", "egpu_setup/runner/ansible.cfg"} <= names
    assert not [n for n in names if "__pycache__" in n]


def test_the_base_wheel_holds_no_simulator_and_brings_no_ziglang(wheels: Path) -> None:
    with zipfile.ZipFile(product_wheel(wheels)) as wheel:
        names = wheel.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [line for line in wheel.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")]
    assert not [n for n in names if n.startswith(("egpu_lab/", "egpu_setup/rehearsal/")) or "/connection/" in n]
    assert not [r for r in requires if "ziglang" in r]
    # The lab comes only with the extra, as its own distribution
    (lab,) = [r.replace('"', "'") for r in requires if r.startswith("Requires-Dist: egpu-setup-lab")]
    assert lab == "Requires-Dist: egpu-setup-lab==0.1.0; extra == 'lab'"


def test_ansible_galaxy_builds_the_collection(tmp_path: Path) -> None:
    done = run(str(BIN / "ansible-galaxy"), "collection", "build", str(COLLECTION), "--output-path", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    (tarball,) = tmp_path.glob("egpu-mac-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    assert {f"roles/{role}/tasks/main.yml" for role in ROLES} <= names
    assert {f"playbooks/{name}.yml" for name in PLAYBOOKS} <= names
    assert "MANIFEST.json" in names and not [n for n in names if "__pycache__" in n]


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of someone who installed the wheel: its venv's bin first, nothing pointing at the checkout."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "EGPU_")) and k != "PYTHONPATH"}
    return {**keep, "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin", "VIRTUAL_ENV": str(venv)}


@pytest.mark.slow
def test_the_wheel_installed_alone_provisions_from_any_directory(wheels: Path, tmp_path: Path) -> None:
    venv, empty = tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    assert ROOT not in tmp_path.parents, "the venv must be outside the checkout"
    assert run(sys.executable, "-m", "venv", str(venv)).returncode == 0
    env = clean_env(venv)
    # With the lab's wheel built too, the product comes with its [lab] extra, found among the wheels just made.
    wanted = (
        f"{product_wheel(wheels)}[lab]" if list(wheels.glob("egpu_setup_lab-*.whl")) else str(product_wheel(wheels))
    )
    done = run(str(venv / "bin/pip"), "install", "-q", "--find-links", str(wheels), wanted, env=env)
    assert done.returncode == 0, done.stdout + done.stderr

    done = run("egpu-setup", "--help", cwd=empty, env=env)
    assert done.returncode == 0 and "provision" in done.stdout, done.stdout + done.stderr
    site = run(str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", env=env)
    collection = Path(site.stdout.strip()) / "ansible_collections/egpu/mac"
    # Plain Ansible finds the installed collection's playbook by its name (COLLECTIONS_SCAN_SYS_PATH).
    done = run("ansible-playbook", "egpu.mac.provision", "--syntax-check", "-i", "localhost,", cwd=empty, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"playbook: {collection / 'playbooks/provision.yml'}" in done.stdout
    # egpu-setup's runner finds the same one (no more "no playbooks/" from a wheel).
    probe = "from egpu_setup.runner.content import find_content; print(find_content().playbook('provision'))"
    done = run(str(venv / "bin/python"), "-c", probe, cwd=empty, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(collection / "playbooks/provision.yml")
    if "[lab]" in wanted:
        provision_a_rehearsal_mac_from_the_wheel(venv, empty, env, tmp_path)


def provision_a_rehearsal_mac_from_the_wheel(venv: Path, empty: Path, env: dict[str, str], tmp_path: Path) -> None:
    """The whole main job from the installed wheels, in an empty directory: a rehearsal Mac provisioned to a passing
    verify, then plain ansible-playbook on the lab's inventory (a second run, which changes nothing)."""
    import json

    env = {**env, "XDG_DATA_HOME": str(tmp_path / "data")}  # a lab and runs of its own; the caches are shared
    done = run("egpu-setup", "provision", "--rehearse", "--json", cwd=empty, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    (host,) = report["hosts"].values()
    summary = host["verify"]["summary"]
    assert (summary["outcome"], summary["failed"]) == ("pass", 0), summary
    inventory = tmp_path / "data/egpu-setup/lab/inventory.yml"
    done = run("ansible-playbook", "egpu.mac.provision", "-i", str(inventory), cwd=empty, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "changed=0" in done.stdout and "failed=0" in done.stdout, done.stdout[-3000:]
    run("egpu-setup", "lab", "down", cwd=empty, env=env)
