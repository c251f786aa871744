"""Progress reporting shared by every stage: a callback `progress(stage, done, total)`.

Lower layers call the callback; apps choose what it shows (a tqdm bar on stderr, a UI status, nothing).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def silent(stage: str, done: int, total: int) -> None:
    """The progress callback that shows nothing."""


class ProgressBar:
    """tqdm on stderr, one bar per stage, silent when stderr is not a terminal unless NOTEBOT_PROGRESS=1."""

    def __init__(self):
        self.bar = None
        self.stage = None
        self.enabled = sys.stderr.isatty() or os.environ.get("NOTEBOT_PROGRESS") == "1"

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total == 0:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit={"embed": "chunk", "lines": "line"}.get(stage, "step"), file=sys.stderr, leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
