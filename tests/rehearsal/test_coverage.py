"""The coverage list sorts the commands that roles and plugins use into imitated, Linux tool, installed, missing."""

from __future__ import annotations

from egpu_lab.coverage import classify, main, referenced


def test_coverage_sorts_commands_from_roles_and_plugins(tmp_path, capsys):
    tasks = tmp_path / "ansible_collections/egpu/demo/roles/demo/tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(
        "- name: Ensure the cache is rebuilt\n"
        "  egpu.mac.run_command:\n"
        "    cmd: >-\n"
        "      rm -f {{ demo_tmp | quote }} && kextcache -i / && diskutil list\n"
        "- name: Read the build\n"
        "  ansible.builtin.raw: sw_vers -buildVersion\n"
    )
    plugins = tmp_path / "ansible_collections/egpu/demo/plugins/modules"
    plugins.mkdir(parents=True)
    (plugins / "m.py").write_text(
        'CMD = ["/usr/sbin/kextstat", "-l"]\nPY = "/usr/local/bin/python3"\n# C(spctl --status)\n'
    )
    rows = {r["command"]: r["kind"] for r in classify(referenced(tmp_path))}
    assert rows == {
        "rm": "linux tool",
        "kextcache": "imitated",
        "diskutil": "missing",
        "sw_vers": "imitated",
        "/usr/sbin/kextstat": "imitated",
        "/usr/local/bin/python3": "installed",
        "spctl": "missing",
    }
    assert main(["--root", str(tmp_path)]) == 0
    assert "7 commands: 5 available in a rehearsal host, 2 missing" in capsys.readouterr().out
