"""How the ``minigrad`` command and the example scripts end: one line for an error a user can fix.

    if __name__ == "__main__":
        sys.exit(run(main))

:func:`run` calls ``main(argv)`` and turns what a user can cause into one line on stderr and an exit status:
minigrad's own errors (:class:`minigrad.errors.MinigradError`: data, checkpoint, divergence, settings, an
``--out`` folder in use) and the operating system's (a read-only or full disk) exit with status 1; Ctrl-C
stops with "interrupted; resume with --resume" and status 130, the shell's convention for SIGINT. Anything
else is a bug and keeps its traceback. ``--debug`` on the command line, or ``MINIGRAD_DEBUG=1``, shows the
traceback of every error (``run`` takes ``--debug`` out of the arguments before ``main`` parses them).
"""

import os
import sys
from pathlib import Path

from minigrad.errors import MinigradError

INTERRUPTED = 130   # 128 + SIGINT


def debug_wanted(argv):
    """Whether the user asked for tracebacks: ``--debug`` among the arguments or ``MINIGRAD_DEBUG=1``."""
    return "--debug" in argv or os.environ.get("MINIGRAD_DEBUG", "0") not in ("", "0")


def one_line(error):
    """The message of ``error`` as one line: what went wrong and, for the OS's errors, on which file."""
    if isinstance(error, OSError) and not isinstance(error, MinigradError) and error.strerror:
        target = f" {error.filename}" if error.filename is not None else ""
        return f"cannot use{target}: {error.strerror}"
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    return text or type(error).__name__


def run(main, argv=None, prog=None, resumable=True):
    """Run ``main(argv)`` and return its exit status; print user errors as one line (see the module doc).

    ``resumable``: whether the program can continue an interrupted run (the hint printed after Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or Path(sys.argv[0]).name or "minigrad"
    debug = debug_wanted(argv)
    argv = [a for a in argv if a != "--debug"]
    if debug:
        return main(argv) or 0
    try:
        return main(argv) or 0
    except KeyboardInterrupt:
        hint = "; resume with --resume" if resumable else ""
        print(f"\n{prog}: interrupted{hint}", file=sys.stderr)
        return INTERRUPTED
    except (MinigradError, OSError) as e:
        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
        return 1
