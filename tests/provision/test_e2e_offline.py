"""End to end: an offline controller (issue 14). A bundle exported from one controller's cache is imported into
an empty cache in another directory, and a rehearsal Mac is provisioned with no download possible: the lab's
mirror (the stand-ins' file:// URLs) is gone, the proxies point at an unreachable address and the downloader
itself is blocked. The run converges from the imported files alone."""

from __future__ import annotations

import io
import shutil

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.lab]


def cli(*args: str) -> tuple[int, str]:
    from egpu_setup.cli import main

    err = io.StringIO()
    return main(list(args), stdout=io.StringIO(), stderr=err), err.getvalue()


def test_an_offline_controller_provisions_from_an_imported_bundle(tmp_path, make_lab, monkeypatch):
    import egpu_setup.cache.store as store

    with make_lab(tmp_path / "base") as lab:
        lab.fill_cache()
        bundle = tmp_path / "lab-artifacts.tar"
        code, err = cli("cache", "export", "-i", str(lab.inventory), str(bundle), "--cache-dir", str(lab.dir / "cache"))
        assert code == 0, err

        # The offline controller: nothing of the online one but the bundle (and the lab's overlay of digests).
        shutil.rmtree(lab.dir / "cache")
        shutil.rmtree(lab.dir / "mirror")
        (lab.dir / "egpu-setup.lock").unlink()
        offline = tmp_path / "offline-cache"
        offline.mkdir()
        code, err = cli("cache", "import", str(bundle), "--cache-dir", str(offline), "--lock",
                        str(lab.dir / "egpu-setup.lock"))  # fmt: skip
        assert code == 0, err
        group_vars = lab.dir / "group_vars/all.yml"
        settings = yaml.safe_load(group_vars.read_text())
        group_vars.write_text(yaml.safe_dump({**settings, "egpu_cache_dir": str(offline)}))

        downloads: list[str] = []

        def no_network(url, *args, **kwargs):
            downloads.append(url)
            raise OSError(f"network unreachable (test): {url}")

        monkeypatch.setattr(store, "download", no_network)
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            monkeypatch.setenv(name, "http://192.0.2.1:9")  # TEST-NET-1: nothing answers there
        code, report, err, _ = lab.run("provision")

        assert code == 0, err
        assert downloads == []
        state = lab.machine("mac1").read()
        assert (state.boot.gpu_driver, state.boot.cuda_works) == ("web", True), state.boot.notes
        verify = report["hosts"]["mac1"]["verify"]
        assert verify["summary"]["outcome"] == "pass", verify["summary"]
