"""The console entry point: ``astack-lint``.

A command run again in a tree where nothing it read changed prints what it printed before and
exits with the same status, importing nothing but the replay (``cache/replay.py``). Otherwise the
command line runs (``cli/lint.py``), and what it prints is recorded for the next time.
"""

from __future__ import annotations

import sys
from typing import List, Optional

from ..cache.replay import Tee, Watch, record, replay


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    status = replay(argv)
    if status is not None:
        return status
    out, err = Tee(sys.stdout), Tee(sys.stderr)
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    watch = Watch()
    try:
        with watch:
            # the one import inside a function in astack-lint: the replay above must load nothing else
            from .lint import run

            outcome = run(argv)
    finally:
        sys.stdout, sys.stderr = out.stream, err.stream
    if outcome.reads is not None and outcome.cache_dir is not None:
        try:
            record(argv, "".join(out.parts), "".join(err.parts), outcome.status, outcome.reads, outcome.cache_dir,
                   list(outcome.paths), watch)
        except Exception:  # never let a record stop a run that succeeded
            pass
    return outcome.status
