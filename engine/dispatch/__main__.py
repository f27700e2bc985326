"""`python -m engine.dispatch`: the dispatcher process (the same as `careloop dispatch`)."""

from __future__ import annotations

import sys

from engine.processes.dispatcher import main

if __name__ == "__main__":
    sys.exit(main())
