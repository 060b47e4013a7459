"""Mach-O library references: reading (macholib), dyld's resolution rules, the rpath fixer, a test builder.

- `reader`: `read_macho(path) -> MachOFile` (thin or universal: install name, LC_LOAD_DYLIB and its weak,
  re-export, lazy and upward forms, LC_RPATH, code signature, header room); `MachOError` for bad files.
- `dyld`: `Root(dir)` (a Mac's file system here, symlinks followed inside it) and `check_slice(...)`: where dyld
  on 10.13 finds each reference, through the chain of loaders.
- `edit`: the built-in load-command writer (add LC_RPATH, change a reference), atomic, never past the header room.
- `tool`: Apple's install_name_tool as the other writer: found by `xcrun --find`, one invocation per file.
- `fixer`: `fix_rpaths(paths, root, search, mode, check, executable, tool) -> FixReport`, used by `egpu-setup
  fix-rpaths` and by the `egpu.mac.macho_rpaths` Ansible module.

Modules that run on the target (reader, dyld, edit, tool, fixer) import only the standard library, macholib and
egpu_setup.errors at module scope.
"""
