"""The parsers against the exact outputs /work/shared/docs/macos-commands.md documents."""

from __future__ import annotations

from ansible_collections.egpu.mac.plugins.module_utils import macos_parse as parse


def test_csrutil_plain_enabled_enforces_kext_signing() -> None:
    got = parse.parse_csrutil_status("System Integrity Protection status: enabled.\n")
    assert got["status"] == "enabled" and got["kext_signing"] is True and got["custom"] is False


def test_csrutil_disabled() -> None:
    got = parse.parse_csrutil_status("System Integrity Protection status: disabled.\n")
    assert got["status"] == "disabled" and got["kext_signing"] is False


CUSTOM = (
    "System Integrity Protection status: enabled (Custom Configuration).\n\nConfiguration:\n"
    "\tApple Internal: disabled\n\tKext Signing: {kext}\n\tFilesystem Protections: enabled\n"
    "\tDebugging Restrictions: enabled\n\tDTrace Restrictions: enabled\n\tNVRAM Protections: enabled\n"
    "\tBaseSystem Verification: enabled\n\nThis is an unsupported configuration, likely to break in the future and "
    "leave your machine in an unknown state.\n"
)


def test_csrutil_custom_without_kext() -> None:
    got = parse.parse_csrutil_status(CUSTOM.format(kext="disabled"))
    assert got["custom"] is True and got["kext_signing"] is False
    assert got["protections"]["Filesystem Protections"] is True and len(got["protections"]) == 7


def test_csrutil_custom_with_kext_signing_on() -> None:
    assert parse.parse_csrutil_status(CUSTOM.format(kext="enabled"))["kext_signing"] is True


def test_kextstat_with_and_without_header() -> None:
    row = "  182    0 0xffffff7f80f32000 0x2000     0x2000     com.nvidia.CUDA (1.1.0) 4329B052-1111 <4 1>"
    header = "Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>"
    assert parse.parse_kextstat(row) == {"com.nvidia.CUDA": "1.1.0"}
    assert parse.parse_kextstat(f"{header}\n{row}\n") == {"com.nvidia.CUDA": "1.1.0"}
    assert parse.parse_kextstat("") == {}


def test_nvram_both_forms_of_on() -> None:
    assert parse.parse_nvram("nvda_drv\t1%00\n") == {"nvda_drv": "1%00"}
    assert parse.nvram_flag_on("1%00") and parse.nvram_flag_on("1")
    assert not parse.nvram_flag_on(None) and not parse.nvram_flag_on("0")
    assert parse.decode_nvram_value("a%25b") == "a%b"


def test_pkg_info() -> None:
    out = (
        "package-id: com.apple.pkg.CLTools_Executables\nversion: 9.2.0.0.1.1510905681\nvolume: /\nlocation: /\n"
        "install-time: 1515000000\n"
    )
    got = parse.parse_pkg_info(out)
    assert got["version"] == "9.2.0.0.1.1510905681" and got["package-id"] == "com.apple.pkg.CLTools_Executables"


DISPLAYS = """Graphics/Displays:

    Intel Iris Plus Graphics 650:

      Chipset Model: Intel Iris Plus Graphics 650
      Type: GPU
      Bus: Built-In
      VRAM (Dynamic, Max): 1536 MB
      Vendor: Intel (0x8086)
      Device ID: 0x5927

    NVIDIA Chip Model:

      Chipset Model: NVIDIA Chip Model
      Type: GPU
      Bus: PCIe
      PCIe Lane Width: x4
      VRAM (Total): 8 GB
      Vendor: NVIDIA (0x10de)
      Device ID: 0x1b80
      Revision ID: 0x00a1
      ROM Revision: 86.04.17.00.01
      Metal: Supported
"""


def test_displays_finds_the_pascal_card_by_ids() -> None:
    gpus = parse.parse_displays(DISPLAYS)
    assert [g["chipset_model"] for g in gpus] == ["Intel Iris Plus Graphics 650", "NVIDIA Chip Model"]
    nvidia = gpus[1]
    assert nvidia["vendor_id"] == 0x10DE and nvidia["device_id"] == 0x1B80 and nvidia["lane_width"] == "x4"
    assert nvidia["vram"] == "8 GB"


THUNDERBOLT = """Thunderbolt:

    MacBook Pro:

      Vendor Name: Apple Inc.
      Device Name: MacBook Pro
      UID: 0x0001

    GP-AORUS GTX1080 Gaming Box:

      Vendor Name: GIGABYTE
      Device Name: GP-AORUS GTX1080 Gaming Box
      Vendor ID: 0x1234
      Device ID: 0x5678
      Firmware Version: 43.1
      Status: Device connected
      Speed: Up to 40 Gb/s x1
"""


def test_thunderbolt_devices() -> None:
    devices = parse.parse_thunderbolt(THUNDERBOLT)
    assert devices[1] == {
        "name": "GP-AORUS GTX1080 Gaming Box",
        "vendor": "GIGABYTE",
        "status": "Device connected",
        "speed": "Up to 40 Gb/s x1",
    }


def test_ioreg_tunnelled_vendor_is_little_endian() -> None:
    out = (
        '+-o pci10de,1b80@0  <class IOPCIDevice>\n    {\n      "vendor-id" = <de100000>\n'
        '      "IOPCITunnelled" = Yes\n    }\n'
        '+-o pci8086,5927@2  <class IOPCIDevice>\n    {\n      "vendor-id" = <86800000>\n    }\n'
    )
    assert parse.parse_ioreg_tunnelled_vendors(out) == [0x10DE]


def test_clang_versions_of_clt_92_and_93() -> None:
    clt92 = (
        "Apple LLVM version 9.0.0 (clang-900.0.39.2)\nTarget: x86_64-apple-darwin17.3.0\nThread model: posix\n"
        "InstalledDir: /Library/Developer/CommandLineTools/usr/bin\n"
    )
    got = parse.parse_clang_version(clt92)
    assert got["build"] == "clang-900.0.39.2"
    assert got["installed_dir"] == "/Library/Developer/CommandLineTools/usr/bin"
    assert parse.parse_clang_version("Apple LLVM version 9.1.0 (clang-902.0.39.1)\n")["build"] == "clang-902.0.39.1"
    assert parse.parse_clang_version("")["build"] == ""


def test_nvcc_version() -> None:
    out = (
        "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2017 NVIDIA Corporation\n"
        "Built on Tue_Dec_19_21:36:29_CST_2017\nCuda compilation tools, release 9.1, V9.1.128\n"
    )
    assert parse.parse_nvcc_version(out) == "9.1.128"
    assert parse.parse_nvcc_version("") == ""


def test_df_available_column() -> None:
    out = (
        "Filesystem   1024-blocks      Used Available Capacity iused      ifree %iused  Mounted on\n"
        "/dev/disk1s1   488245288 240000000 244145288    50% 1000000 9223372036 0%   /\n"
    )
    assert parse.parse_df_kb(out) == 244145288
    assert parse.parse_df_kb("") is None


def test_sysctl_lines() -> None:
    out = "hw.model: MacBookPro14,3\nhw.ncpu: 8\nhw.memsize: 17179869184\n"
    assert parse.parse_sysctl(out) == {"hw.model": "MacBookPro14,3", "hw.ncpu": "8", "hw.memsize": "17179869184"}


# --- fdesetup (lab/egpu_lab/facts/filevault.yaml) ---------------------------------------------------------


def test_fdesetup_status_texts_are_the_facts_tables() -> None:
    from egpu_lab import facts

    assert facts.value("filevault", "status_on") == parse.FILEVAULT_ON
    assert facts.value("filevault", "status_off") == parse.FILEVAULT_OFF


def test_fdesetup_status_on_off_and_while_converting() -> None:
    assert parse.parse_fdesetup_status("FileVault is On.\n")["unlock_at_boot"] is True
    assert parse.parse_fdesetup_status("FileVault is Off.\n") == {
        "status": "FileVault is Off.",
        "conversion": None,
        "unlock_at_boot": False,
    }
    encrypting = parse.parse_fdesetup_status("FileVault is On.\nEncryption in progress: Percent completed = 42.1\n")
    assert encrypting["unlock_at_boot"] is True
    assert encrypting["conversion"] == "Encryption in progress: Percent completed = 42.1"
    # A disabled FileVault still decrypting keeps an encrypted volume: still unlocked at boot (conservative).
    decrypting = parse.parse_fdesetup_status("FileVault is Off.\nDecryption in progress: Percent completed = 12\n")
    assert decrypting["unlock_at_boot"] is True
    deferred = parse.parse_fdesetup_status(
        "FileVault is Off.\nDeferred enablement appears to be active for user 'admin'.\n"
    )
    assert deferred["unlock_at_boot"] is False
    assert parse.parse_fdesetup_status("")["unlock_at_boot"] is None
    assert parse.parse_fdesetup_status("fdesetup: command not found")["unlock_at_boot"] is None


def test_fdesetup_list_gives_the_short_names() -> None:
    text = "admin,0C1F3C38-3B10-5E73-9D2C-5F0B6D2C6A11\njsmith,911D2742-7983-436D-9FA3-3F6B7421684B\n"
    assert parse.parse_fdesetup_list(text) == ["admin", "jsmith"]
    assert parse.parse_fdesetup_list("") == []
