"""Entry point of ``python -m optimizer``."""

import signal
import sys

try:
    from optimizer.cli import main

    code = main()
except KeyboardInterrupt:
    # Ctrl-C before a command installs its own handler (imports, validation), or a
    # second Ctrl-C that aborts a stopping sweep: one line, the shell's code for SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C cannot cut the line
    print("interrupted", file=sys.stderr)
    code = 130
raise SystemExit(code)
