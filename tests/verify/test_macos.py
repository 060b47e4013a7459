"""Parsing what macOS prints and stores: system_profiler, kextstat, plists, version.txt, cudnn.h."""

from __future__ import annotations

import plistlib

from egpu_setup.verify import macos


def test_system_profiler_blocks(mac_command_output) -> None:
    displays = macos.parse_displays(mac_command_output["system_profiler"])
    assert [d.chipset for d in displays] == ["Intel Iris Plus Graphics 650", "NVIDIA GeForce GTX 1080"]
    intel, nvidia = displays
    assert not intel.is_nvidia and nvidia.is_nvidia and nvidia.driver_working
    assert nvidia.device_id == 0x1B80 and nvidia.fields["PCIe Lane Width"] == "x4"


def test_pascal_card_without_web_driver_is_a_chip_model() -> None:
    (card,) = macos.parse_displays(
        "    NVIDIA Chip Model:\n\n      Chipset Model: NVIDIA Chip Model\n      Vendor: NVIDIA (0x10de)\n"
    )
    assert card.is_nvidia and not card.driver_working


def test_kextstat_rows(mac_command_output) -> None:
    loaded = macos.parse_kextstat(mac_command_output["kextstat"])
    assert loaded[macos.WEBDRIVER_BUNDLE] == "10.2.7" and loaded[macos.CUDA_KEXT_BUNDLE] == "1.1.0"
    header = "Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>\n"
    assert macos.parse_kextstat(header) == {}


def test_cudnn_header_versions() -> None:
    assert (
        macos.parse_cudnn_header("#define CUDNN_MAJOR 7\n#define CUDNN_MINOR 0\n#define CUDNN_PATCHLEVEL 5\n")
        == "7.0.5"
    )
    assert macos.parse_cudnn_header("#define CUDNN_MAJOR 7\n") is None


def test_mac_host_reads_plists_and_runs_commands_below_its_root(tmp_path) -> None:
    kext = tmp_path / "Library/Extensions/GeForceWeb.kext/Contents/Info.plist"
    kext.parent.mkdir(parents=True)
    kext.write_bytes(plistlib.dumps({"CFBundleGetInfoString": "GeForceWeb 10.2.7 387.10.10.10.25.156"}))
    framework = tmp_path / "Library/Frameworks/CUDA.framework/Resources/Info.plist"
    framework.parent.mkdir(parents=True)
    framework.write_bytes(b"not a plist")
    lib = tmp_path / "usr/local/cuda/lib"
    lib.mkdir(parents=True)
    (lib / "libcudart.9.1.dylib").write_bytes(b"")
    seen = []

    def run(argv: list[str]) -> tuple[int, str]:
        seen.append(argv)
        return 1, ""

    host = macos.MacHost(root=str(tmp_path), run=run)
    assert host.webdriver_version() == "387.10.10.10.25.156"
    assert host.cuda_driver_version() is None  # a corrupt plist reads as absent, not as a crash
    assert host.cuda_runtime_version() == ("9.1", "/usr/local/cuda/lib/libcudart.9.1.dylib")
    assert host.cudnn_version() is None
    assert host.displays() == ([], "system_profiler SPDisplaysDataType exited 1")
    assert seen == [["system_profiler", "SPDisplaysDataType"]]
