"""hdiutil attach/detach on a real UDIF image (zlib chunks around ISO 9660) built in the test."""

from __future__ import annotations

from egpu_lab.macos.hdiutil import hdiutil
from egpu_lab.standins import udif


def make_dmg(host, volume="CUDADriver"):
    src = host.dir / "src"
    (src / "CUDADriver.pkg").mkdir(parents=True, exist_ok=True)
    (src / "CUDADriver.pkg/blob").write_bytes(b"payload" * 1000)
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    return udif.build_dmg(host.root / "private/tmp/cuda.dmg", src, volume, 1516665600)


def test_image_is_udif_and_deterministic(host):
    first = make_dmg(host).read_bytes()
    assert first[-512:-508] == b"koly"
    assert make_dmg(host, "CUDADriver").read_bytes() == first


def test_attach_detach(host):
    make_dmg(host)
    r = host.run(hdiutil, "attach", "/private/tmp/cuda.dmg", user="admin")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "/dev/disk2          \tGUID_partition_scheme          \t",
        "/dev/disk2s1        \tApple_HFS                      \t/Volumes/CUDADriver",
    ]
    mounted = host.root / "Volumes/CUDADriver"
    assert (mounted / "CUDADriver.pkg/blob").read_bytes() == b"payload" * 1000
    assert (mounted / "run.sh").stat().st_mode & 0o111
    # a second attach gets the next disk and "<name> 1"
    quiet = host.run(hdiutil, "attach", "/private/tmp/cuda.dmg", "-nobrowse", "-quiet")
    assert (quiet.code, quiet.out) == (0, "")
    assert (host.root / "Volumes/CUDADriver 1/run.sh").exists()
    d = host.run(hdiutil, "detach", "/Volumes/CUDADriver")
    assert (d.code, d.out) == (0, '"disk2" ejected.\n')
    assert not mounted.exists()
    assert host.run(hdiutil, "detach", "/dev/disk3").out == '"disk3" ejected.\n'
    again = host.run(hdiutil, "detach", "/Volumes/CUDADriver")
    assert (again.code, again.err) == (1, "hdiutil: detach failed - No such file or directory\n")


def test_attach_errors(host):
    (host.root / "private/tmp/junk.dmg").write_bytes(b"\0" * 4096)
    r = host.run(hdiutil, "attach", "/private/tmp/junk.dmg")
    assert (r.code, r.err) == (1, "hdiutil: attach failed - image not recognized\n")
    udif.write_dmg(host.root / "private/tmp/blank.dmg", b"\0" * 65536)
    r = host.run(hdiutil, "attach", "/private/tmp/blank.dmg")
    assert (r.code, r.err) == (1, "hdiutil: attach failed - no mountable file systems\n")
    r = host.run(hdiutil, "attach", "/private/tmp/none.dmg")
    assert r.code == 1
    assert list((host.root / "Volumes").iterdir()) == []
