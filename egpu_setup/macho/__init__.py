"""Mach-O library references: reading (macholib), dyld's resolution rules, the rpath fixer, a test builder.

Modules that run on the target (reader, resolve, fix) import only the standard library and macholib at module
scope; `build` needs the ziglang wheel and runs on the controller only.
"""
