"""Exit codes and the one expected-error type that the CLI reports without a traceback."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; `egpu-setup --help` documents them."""

    OK = 0
    CHECK_FAILED = 1  # a check, a provisioning run or a verification failed
    USAGE = 2  # bad input: arguments, a matrix/lock/inventory file, an unknown build
    NO_GPU = 3  # verify: no NVIDIA GPU or driver at all
    BUSY = 4  # another run holds the lock of a Mac, a lab or a lock file (without --wait)
    OUTPUT_FAILED = 74  # stdout closed or full (sysexits' EX_IOERR): the message goes to stderr
    INTERRUPTED = 130  # Ctrl-C (SIGINT), 128 + 2 as a shell reports it
    TERMINATED = 143  # SIGTERM, 128 + 15


EXIT_CODE_HELP = """exit codes:
  0    success
  1    a check failed (provisioning, preflight or verification)
  2    bad input or usage (arguments, matrix, lock or inventory file, unsupported build)
  3    verify: no NVIDIA GPU or driver found
  4    busy: another run holds the lock of a Mac or a lab (--wait waits for it)
  74   stdout could not be written (closed or full); the message is on stderr
  130  interrupted (Ctrl-C)
  143  terminated (SIGTERM)"""


class EgpuError(Exception):
    """An expected failure: says what is wrong and what to do, and carries the exit code.

    Raised anywhere below the CLI; caught once in `egpu_setup.cli.main` and printed as
    `error: <message>` and `fix: <fix>` on stderr.
    """

    def __init__(self, message: str, fix: str | None = None, exit_code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\nfix: {self.fix}"


class CheckFailed(EgpuError):
    """A check ran and failed (exit 1)."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message, fix, ExitCode.CHECK_FAILED)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised on the main thread by the CLI's handler. A KeyboardInterrupt, so everything that cleans up
    after Ctrl-C (the run's child stopped, its report written, the terminal restored, a cut download kept) does the
    same for it; only the outcome ("terminated") and the exit code (143) differ."""
