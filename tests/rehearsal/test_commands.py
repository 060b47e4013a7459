"""Each imitated macOS command against its documented form (macos-commands.md), run inside a real sandbox."""

from __future__ import annotations

import plistlib
import re

import pytest

from egpu_lab.lab import allow_kexts

pytestmark = pytest.mark.lab

INFO = "/System/Library/Extensions/NVDAStartup.kext/Contents/Info.plist"


def test_sw_vers_prints_three_tab_separated_lines_and_bare_values(host):
    r = host.sh("sw_vers")
    assert (r.rc, r.out) == (0, "ProductName:\tMac OS X\nProductVersion:\t10.13.2\nBuildVersion:\t17C88\n")
    r = host.sh("sw_vers -productVersion; sw_vers -buildVersion; sw_vers -productName")
    assert r.out.splitlines() == ["10.13.2", "17C88", "Mac OS X"]


def test_sw_vers_reads_system_version_plist(host):
    plist = host.root / "System/Library/CoreServices/SystemVersion.plist"
    data = plistlib.loads(plist.read_bytes())
    data["ProductBuildVersion"] = "17D47"
    plist.write_bytes(plistlib.dumps(data))
    assert host.sh("sw_vers -buildVersion").out == "17D47\n"


def test_sysctl_names_bare_values_and_unknown_oid(host):
    r = host.sh("sysctl kern.osversion hw.model")
    assert r.out == "kern.osversion: 17C88\nhw.model: MacBookPro14,3\n"
    assert host.sh("sysctl -n hw.ncpu").out == "8\n"
    assert host.sh("sysctl -n hw.memsize").out == "17179869184\n"
    r = host.sh("sysctl foo")
    assert (r.rc, r.err) == (1, "sysctl: unknown oid 'foo'\n")


def test_uname_answers_darwin_for_the_command_and_for_programs(host):
    assert host.sh("uname").out == "Darwin\n"
    assert host.sh("uname -r").out == "17.3.0\n"
    assert host.sh("uname -a").out.startswith("Darwin mac1 17.3.0 Darwin Kernel Version 17.3.0: ")
    # uname(2) through the preload library: what Python's platform module (and Ansible's facts) see.
    r = host.sh("/.rehearsal/python3/bin/python3.11 -c 'import platform; print(platform.system(), platform.release())'")
    assert r.out == "Darwin 17.3.0\n", r


@pytest.mark.parametrize(
    ("sip", "expected"),
    [
        ("enabled", ["System Integrity Protection status: enabled."]),
        ("disabled", ["System Integrity Protection status: disabled."]),
        (
            "kext-off",
            [
                "System Integrity Protection status: enabled (Custom Configuration).",
                "",
                "Configuration:",
                "\tApple Internal: disabled",
                "\tKext Signing: disabled",
                "\tFilesystem Protections: enabled",
                "\tDebugging Restrictions: enabled",
                "\tDTrace Restrictions: enabled",
                "\tNVRAM Protections: enabled",
                "\tBaseSystem Verification: enabled",
                "",
                "This is an unsupported configuration, likely to break in the future and leave your machine in an "
                "unknown state.",
            ],
        ),
    ],
)
def test_csrutil_status_forms(make_host, sip, expected):
    r = make_host(sip=sip).sh("csrutil status")
    assert (r.rc, r.out.splitlines()) == (0, expected)


def test_csrutil_refuses_changes_from_the_booted_os(host):
    for args in ("disable", "enable --without kext", "clear"):
        r = host.sh(f"sudo csrutil {args}")
        assert r.rc == 1
        assert r.err == (
            "csrutil: failed to modify system integrity configuration. "
            "This tool needs to be executed from the Recovery OS.\n"
        )
    assert host.sh("csrutil status").out == "System Integrity Protection status: enabled.\n"


def test_nvram_read_set_delete_print_and_percent_encoding(host):
    r = host.sh("nvram nvda_drv")
    assert (r.rc, r.err) == (1, "nvram: Error getting variable - 'nvda_drv': (iokit/common) data was not found\n")
    r = host.sh("nvram nvda_drv=1")
    assert (r.rc, r.err) == (1, "nvram: Error setting variable - 'nvda_drv': (iokit/common) not privileged\n")
    assert host.sh("sudo nvram nvda_drv=1%00").rc == 0
    assert host.machine.read().nvram_get("nvda_drv") == b"1\x00"
    assert host.sh("nvram nvda_drv").out == "nvda_drv\t1%00\n"
    assert host.sh("sudo nvram 'boot-args=a%b' && nvram boot-args").out == "boot-args\ta%25b\n"
    assert host.sh("nvram -p").out == "boot-args\ta%25b\nnvda_drv\t1%00\n"
    r = host.sh("sudo nvram -d nvda_drv; echo $?; sudo nvram -d nvda_drv; echo $?")
    assert r.out == "0\n0\n"
    assert host.sh("nvram nvda_drv").rc == 1


def test_kextstat_header_rows_and_filters(host):
    r = host.sh("kextstat")
    lines = r.out.splitlines()
    assert lines[0] == "Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>"
    row = next(line for line in lines if "com.apple.nvidia.NVDAStartup" in line)
    assert re.match(r"^ +\d+ +\d+ 0xffffff7f[0-9a-f]{8} +0x[0-9a-f]+ +0x[0-9a-f]+ +com\.apple\.nvidia\.NVDAStartup "
                    r"\(10\.2\.5\) [0-9A-F-]{36} <1 3 4>$", row)  # fmt: skip
    r = host.sh("kextstat -l -b com.apple.nvidia.NVDAStartup")
    assert r.out.splitlines() == [row]
    r = host.sh("kextstat -b com.nvidia.NVDAStartupWeb")
    assert (r.rc, r.out) == (0, lines[0] + "\n")


def test_kextload_exit_codes(host, web_driver):
    web_driver(host)
    r = host.sh("kextload /Library/Extensions/GeForceWeb.kext")
    assert (r.rc, r.err) == (77, "You must be running as root to load kexts.\n")
    r = host.sh("sudo kextload /Library/Extensions/Nope.kext")
    assert (r.rc, r.err) == (71, "Can't create /Library/Extensions/Nope.kext.\n")
    # Not yet allowed by the user (kext signing on): system policy, 27.
    r = host.sh("sudo kextload /Library/Extensions/GeForceWeb.kext")
    assert r.rc == 27
    assert "failed to load - (libkern/kext) system policy prevents loading" in r.err
    allow_kexts(host.machine, "6KR3T733EC")
    # NVDAStartupWeb without nvda_drv: not loadable, 71; GeForceWeb (intact seal, allowed): loads.
    r = host.sh("sudo kextload /Library/Extensions/NVDAStartupWeb.kext")
    assert r.rc == 71
    assert "failed to load - (libkern/kext) not loadable (reason unspecified)" in r.err
    assert host.sh("sudo kextload /Library/Extensions/GeForceWeb.kext").rc == 0
    assert "com.nvidia.web.GeForceWeb (10.2.5)" in host.sh("kextstat -l -b com.nvidia.web.GeForceWeb").out


def test_kextutil_reports_a_broken_seal_while_kext_signing_is_on(host, web_driver):
    web_driver(host)
    host.sh("sudo /usr/libexec/PlistBuddy -c 'Set :IOKitPersonalities:NVDAStartup:NVDARequiredOS 17D47' "
            "/Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist")  # fmt: skip
    r = host.sh("kextutil -n -t /Library/Extensions/NVDAStartupWeb.kext")
    assert r.rc == 4
    assert "Authentication Failures:" in r.err
    assert "Code Signing Failure: a sealed resource is missing or invalid: Info.plist" in r.err
    assert host.sh("kextutil -n /Library/Extensions/GeForceWeb.kext").rc == 0


def test_kextcache_needs_root_and_writes_the_prelinked_kernel_record(host, web_driver):
    web_driver(host)
    assert host.sh("kextcache -i /").rc == 77
    r = host.sh("sudo kextcache -i /")
    assert (r.rc, r.err) == (0, "rebuilding //System/Library/PrelinkedKernels/prelinkedkernel\n")
    record = plistlib.loads((host.root / "System/Library/PrelinkedKernels/prelinkedkernel").read_bytes())
    ids = {k["CFBundleIdentifier"]: k for k in record["Kexts"]}
    assert ids["com.nvidia.NVDAStartupWeb"]["NVDARequiredOS"] == "17C88"
    assert ids["com.nvidia.NVDAStartupWeb"]["SealIntact"] is True
    assert host.sh("sudo kextcache -system-caches -q").err == ""
    assert host.sh("sudo kextcache -u /").rc == 0
    assert host.sh("sudo kextcache").rc == 64


def test_system_profiler_software_and_thunderbolt(host):
    r = host.sh("system_profiler SPSoftwareDataType")
    assert "      System Version: macOS 10.13.2 (17C88)\n" in r.out
    assert "      Kernel Version: Darwin 17.3.0\n" in r.out
    r = host.sh("system_profiler SPThunderboltDataType")
    for line in ("Vendor Name: GIGABYTE", "Device Name: GP-AORUS GTX1080 Gaming Box", "Status: Device connected",
                 "Speed: Up to 40 Gb/s x1", "Firmware Version: 20.1"):  # fmt: skip
        assert line in r.out
    doc = plistlib.loads(host.sh("system_profiler -xml SPDisplaysDataType").out.encode())
    assert doc[0]["_dataType"] == "SPDisplaysDataType"
    assert [item["_name"] for item in doc[0]["_items"]] == ["Intel Iris Plus Graphics 650", "NVIDIA Chip Model"]
    nvidia = doc[0]["_items"][1]
    assert (nvidia["spdisplays_device-id"], nvidia["spdisplays_vendor"], nvidia["sppci_device_type"]) == (
        "0x1b80",
        "sppci_vendor_nvidia",
        "spdisplays_gpu",
    )
    software = plistlib.loads(host.sh("system_profiler -xml SPSoftwareDataType").out.encode())[0]["_items"][0]
    assert software["os_version"] == "macOS 10.13.2 (17C88)"


def test_ioreg_finds_the_nvidia_gpu_behind_thunderbolt(host):
    r = host.sh("ioreg -r -c IOPCIDevice -l")
    display = r.out[r.out.index("+-o display@0") :]
    assert '"vendor-id" = <de100000>' in display
    assert '"device-id" = <801b0000>' in display
    assert '"IOPCITunnelled" = Yes' in display
    assert '"model" = <"NVIDIA GeForce GTX 1080">' in display
    assert "AppleThunderboltNHIType3" in host.sh("ioreg -l").out


def test_ioreg_without_gpu_has_no_nvidia_device(make_host):
    assert "de100000" not in make_host(gpu="none").sh("ioreg -l").out


def test_xcode_select_print_switch_and_errors(host):
    r = host.sh("xcode-select -p")
    assert r.rc == 2
    assert r.err.startswith("xcode-select: error: unable to get active developer directory")
    r = host.sh("xcode-select --switch /Library/Developer/CommandLineTools")
    assert (r.rc, r.err) == (
        1,
        "xcode-select: error: --switch must be run as root (e.g. `sudo xcode-select --switch <xcode_folder_path>`).\n",
    )
    r = host.sh("sudo xcode-select --switch /nowhere")
    assert (r.rc, r.err) == (1, "xcode-select: error: invalid developer directory '/nowhere'\n")
    (host.root / "Library/Developer/CommandLineTools/usr/bin").mkdir(parents=True)
    assert host.sh("xcode-select -p").out == "/Library/Developer/CommandLineTools\n"  # found without a selection
    (host.root / "Applications/Xcode.app/Contents/Developer/usr/bin").mkdir(parents=True)
    assert host.sh("sudo xcode-select -s /Applications/Xcode.app").rc == 0
    assert host.sh("xcode-select -p").out == "/Applications/Xcode.app/Contents/Developer\n"
    assert host.machine.read().developer_dir == "/Applications/Xcode.app/Contents/Developer"


def test_plistbuddy_print_set_add_delete_and_messages(host):
    r = host.sh(f"/usr/libexec/PlistBuddy -c 'Print :IOKitPersonalities:NVDAStartup:IOClass' {INFO}")
    assert (r.rc, r.out) == (0, "NVDAStartup\n")
    r = host.sh(f"/usr/libexec/PlistBuddy -c 'Print :IOKitPersonalities:NVDAStartup:NVDARequiredOS' {INFO}")
    assert (r.rc, r.err) == (1, 'Print: Entry, ":IOKitPersonalities:NVDAStartup:NVDARequiredOS", Does Not Exist\n')
    plist = "/tmp/t.plist"
    (host.root / "private/tmp/t.plist").write_bytes(plistlib.dumps({"a": {"b": "x", "n": 3}}, fmt=plistlib.FMT_BINARY))
    script = (
        f"/usr/libexec/PlistBuddy -c 'Set :a:b 17C88' -c 'Set :a:n 5' -c 'Add :a:c bool true' -c 'Delete :a:gone' "
        f"{plist}; echo rc=$?; /usr/libexec/PlistBuddy -c 'Add :a:b string y' {plist}"
    )
    r = host.sh(script)
    assert r.out == "rc=1\n"
    assert r.err == 'Delete: Entry, ":a:gone", Does Not Exist\nAdd: ":a:b" Entry Already Exists\n'
    raw = (host.root / "private/tmp/t.plist").read_bytes()
    assert raw.startswith(b"bplist00")  # written back in its own format
    assert plistlib.loads(raw) == {"a": {"b": "17C88", "n": 5, "c": True}}
    r = host.sh(f"/usr/libexec/PlistBuddy -c 'Print :a' {plist}")
    assert r.out == "Dict {\n    b = 17C88\n    n = 5\n    c = true\n}\n"


def test_plistbuddy_refuses_writes_a_mac_refuses_and_bad_values(host, make_host):
    """admin may not write root's files; SIP keeps even root out of /System; a bad value is no traceback."""
    version_plist = "/System/Library/CoreServices/SystemVersion.plist"
    before = (host.root / version_plist.lstrip("/")).read_bytes()
    r = host.sh(f"/usr/libexec/PlistBuddy -c 'Set :ProductVersion 10.13.9' {version_plist}")
    assert (r.rc, r.err) == (1, f"Error Writing File: {version_plist} (Permission denied)\n")
    r = host.sh(f"/usr/libexec/PlistBuddy -c 'Set :ProductVersion 10.13.9' {version_plist}", user="root")
    assert (r.rc, r.err) == (1, f"Error Writing File: {version_plist} (Operation not permitted)\n")
    assert (host.root / version_plist.lstrip("/")).read_bytes() == before
    assert host.sh("sw_vers -productVersion").out == "10.13.2\n"
    # Without SIP's filesystem protections root may; admin still may not write /Library.
    unprotected = make_host(sip="disabled")
    r = unprotected.sh(f"/usr/libexec/PlistBuddy -c 'Set :ProductVersion 10.13.9' {version_plist}", user="root")
    assert r.rc == 0 and unprotected.sh("sw_vers -productVersion").out == "10.13.9\n"
    (host.root / "Library/x.plist").write_bytes(plistlib.dumps({"n": 3}))
    assert host.sh("/usr/libexec/PlistBuddy -c 'Set :n 4' /Library/x.plist").rc == 1
    assert host.sh("/usr/libexec/PlistBuddy -c 'Set :n 4' /Library/x.plist", user="root").rc == 0
    r = host.sh("/usr/libexec/PlistBuddy -c 'Set :n abc' -c 'Add :m integer x' /Library/x.plist", user="root")
    assert (r.rc, r.err) == (1, "Unrecognized Set Value: abc\nUnrecognized Add Value: x\n")
    assert plistlib.loads((host.root / "Library/x.plist").read_bytes()) == {"n": 4}


def test_shutdown_and_reboot_need_root(host):
    r = host.sh("shutdown -r now")
    assert (r.rc, r.err) == (1, "shutdown: NOT super-user\n")
    assert host.sh("reboot").rc == 1
    assert not host.machine.read().boot.pending


def test_who_b_uses_the_macos_boot_record_format(host):
    assert re.fullmatch(r"reboot   ~        [A-Z][a-z]{2} [ \d]\d \d\d:\d\d\n", host.sh("who -b").out)


def test_sudo_switches_the_simulated_user(host):
    assert host.sh("whoami; id -u; echo $HOME").out == "admin\n501\n/Users/admin\n"
    r = host.sh("sudo -H -S -n -u root /bin/sh -c 'echo BECOME-SUCCESS-x; whoami; id -u; echo $HOME'")
    assert r.out == "BECOME-SUCCESS-x\nroot\n0\n/var/root\n"
    assert host.sh("id").out.startswith("uid=501(admin) gid=20(staff) groups=20(staff),12(everyone)")
    assert host.sh("sudo -u nobody id").err == "sudo: unknown user: nobody\n"


def test_df_reports_free_space_and_the_disk_full_fault(host):
    line = host.sh("df -k /").out.splitlines()[1].split()
    assert line[0] == "/dev/disk1s1" and line[-1] == "/" and int(line[3]) > 0
    with host.machine.edit() as st:
        st.faults.disk_full = True
    line = host.sh("df -k /").out.splitlines()[1].split()
    assert (line[3], line[4]) == ("0", "100%")


def test_python_is_the_27_stand_in_and_only_python(host):
    r = host.sh("python --version")
    assert (r.rc, r.out, r.err) == (0, "", "Python 2.7.10\n")
    r = host.sh("command -v python3 python3.11 python2.7 python; ls /usr/bin | grep -c python3")
    assert r.out.splitlines() == ["/usr/bin/python2.7", "/usr/bin/python", "0"]
    r = host.sh("printf '#!/usr/bin/python\\n\\nfrom __future__ import annotations\\n' > /tmp/m.py; python /tmp/m.py")
    assert (r.rc, r.err) == (1, '  File "/tmp/m.py", line 3\nSyntaxError: future feature annotations is not defined\n')


def test_the_mac_tree_has_the_high_sierra_paths(host):
    r = host.sh("ls -d /System/Library/Extensions/NVDAStartup.kext /Library/Extensions /Library/Frameworks "
                "/usr/local /Developer /Applications /private/var/db/receipts /Volumes /Users/admin /var/root; "
                "readlink /etc /tmp /var; echo $EGPU_REHEARSAL")  # fmt: skip
    assert r.rc == 0, r
    assert r.out.splitlines()[-4:] == ["private/etc", "private/tmp", "private/var", "1"]


def test_the_hidden_runtime_serves_shims_python_and_zig(host):
    r = host.sh("/.rehearsal/python3/bin/python3.11 -c 'import sys; print(sys.prefix)'")
    assert r.out == "/.rehearsal/python3\n"
    if (host.root / ".rehearsal/ziglang").is_dir() and any((host.root / ".rehearsal/ziglang").iterdir()):
        pytest.fail("the ziglang mount point must stay empty on disk: it is bound at run time")
    r = host.sh("/.rehearsal/ziglang/zig version && test -w /.rehearsal/zig-cache && echo writable")
    assert r.rc == 0 and r.out.endswith("writable\n"), r
    assert host.sh("file /bin/sh").rc == 0  # Linux tools find their data (file's magic database)


def test_shasum_runs_on_the_hosts_perl(host):
    """macOS ships shasum (a Perl script); roles and the CUDA uninstaller rely on Perl with its modules."""
    r = host.sh("printf abc > /tmp/abc && shasum -a 256 /tmp/abc")
    assert r.rc == 0, r.err
    assert r.out == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  /tmp/abc\n"


@pytest.mark.parametrize(("sip", "protected"), [("enabled", True), ("kext-off", True), ("disabled", False)])
def test_sip_filesystem_protection_refuses_writes_even_by_root(make_host, sip, protected):
    """rootless.conf protects /System, /usr (but /usr/local), /bin and /sbin from root too; `csrutil enable
    --without kext` keeps that protection. Only entitled Apple tools such as kextcache write there."""
    host = make_host(sip=sip)
    for path in ("/System/Library/Extensions/x", "/usr/bin/x", "/sbin/x"):
        r = host.sh(f"touch {path}", user="root")
        assert (r.rc != 0) is protected, (path, r)
    assert host.sh("touch /usr/local/x && rm /usr/local/x", user="root").rc == 0
    assert host.sh("kextcache -i /", user="root").rc == 0
    assert (host.root / "System/Library/PrelinkedKernels/prelinkedkernel").is_file()


def test_kext_cache_record_is_the_same_for_the_same_kexts(host):
    cache = host.root / "System/Library/PrelinkedKernels/prelinkedkernel"
    assert host.sh("kextcache -i /", user="root").rc == 0
    first = cache.read_bytes()
    assert host.sh("kextcache -i /", user="root").rc == 0
    assert cache.read_bytes() == first
