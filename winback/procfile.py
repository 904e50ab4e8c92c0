"""`make run` / `make serve`: the Procfile's processes through honcho, stopped cleanly on Ctrl-C.

Two changes to honcho's stop, both for the Celery worker:
- honcho sends SIGTERM to each process's whole process group. That reaches the worker's pool children
  and its embedded beat before the worker itself can stop them, and the worker then sometimes hangs in
  its shutdown until honcho SIGKILLs it. Here only the process itself gets SIGTERM (each Procfile line
  `exec`s its program, so that is the program, not a shell); it stops its own children, as Celery expects.
- honcho SIGKILLs what still runs 5 seconds later. The worker polls the filesystem broker every 2 s and
  finishes the task in hand, which takes more than 5 s on a loaded laptop: it gets GRACE_SECONDS.
SIGKILL after the grace period still goes to the whole group, so nothing is left behind.

    python -m winback.procfile start -f Procfile
"""

from __future__ import annotations

import errno
import os
import signal

import honcho.manager
from honcho.command import main
from honcho.compat import ProcessManager

GRACE_SECONDS = 30


class _ProcessManager(ProcessManager):
    def terminate(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ESRCH):
                raise


if __name__ == "__main__":
    honcho.manager.KILL_WAIT = GRACE_SECONDS
    honcho.manager.ProcessManager = _ProcessManager
    main()
