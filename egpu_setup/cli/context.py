"""The commands' output context, defined in egpu_setup.output (below the CLI: `python -m egpu_setup.verify` on a
Mac uses it without the CLI, which the Mac's tools bundle leaves out); kept here for the CLI's modules."""

from egpu_setup.output import JSON_SCHEMA_VERSION, Context

__all__ = ["JSON_SCHEMA_VERSION", "Context"]
