"""The rehearsal lab: simulated High Sierra Macs on Linux that Ansible provisions for real.

Layout (see docs/rehearsal.md for every imitated behaviour and its public source):

- `machine`  per-host state that a Mac keeps outside its file system (NVRAM, SIP, boot record, loaded kexts,
             hardware, fault switches), JSON under `<host>/machine/` behind a file lock;
- `kexts`    reading kext bundles and their stand-in code signature (CodeResources with SHA-256 digests);
- `boot`     the boot model: kext cache record, which kexts load at boot, the reboot transition;
- `image`    the bare High Sierra tree of a host and the command shims at their real paths;
- `sandbox`  bubblewrap around one host: the Mac tree as `/`, the Linux runtime hidden;
- `lab`      a lab directory of N hosts, its inventory and group vars;
- `macos/`   one module per imitated macOS command (moto style registry of executables -> handlers);
- `standins/` the stand-in installers (packaging).

This package's `__init__` imports nothing: the command shims import only the module they need.
"""
