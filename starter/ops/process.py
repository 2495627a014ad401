"""Process exit that survives the Temporal SDK's Rust threads (temporalio/sdk-python#300).

Their threads may still touch the GIL while CPython finalises, which aborts the process (exit 134)
after all work is done. We flush and leave with os._exit once the real work has returned.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def exit_cleanly(run: Callable[[], object]) -> None:
    code = 0
    try:
        run()
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
