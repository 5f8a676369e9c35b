"""Entry point of ``python -m optimizer``."""

import os
import signal
import sys

from optimizer import prestart

try:
    # A sweep's worker processes start while the command line imports (optimizer.prestart).
    prestart.start_early(sys.argv[1:])
    from optimizer.cli import main

    code = main()
except KeyboardInterrupt:
    # Ctrl-C before a command installs its own handler (imports, validation), or a
    # second Ctrl-C that aborts a stopping sweep: one line, the shell's code for SIGINT.
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a further Ctrl-C cannot cut the line
    print("interrupted", file=sys.stderr)
    code = 130
except BrokenPipeError:
    # The reader went away (`show ... | head`): what it read is all it wanted. Python
    # would report the failed flush of stdout at exit, so stdout points at devnull now.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 128 + signal.SIGPIPE
finally:
    prestart.close()
raise SystemExit(code)
