"""A plain progress bar on stderr: redrawn in place on a terminal, a line now and then if not."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, unit: str, *, enabled: bool = True) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self._drawn = 0.0
        self._last_tenth = -1

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._drawn >= 0.2 or self.done >= self.total:
            self._draw(now)

    def _draw(self, now: float) -> None:
        if not self.enabled:
            return
        self._drawn = now
        share = min(self.done / self.total, 1.0)
        elapsed = now - self.started
        text = f"{self.label} {share:4.0%} {self.done}/{self.total} {self.unit}, {elapsed:5.1f} s"
        if self.tty:
            bar = "#" * int(share * 30)
            sys.stderr.write(f"\r[{bar:<30}] {text}")
            sys.stderr.flush()
        elif int(share * 10) != self._last_tenth:
            self._last_tenth = int(share * 10)
            print(text, file=sys.stderr, flush=True)

    def close(self, message: str = "") -> None:
        if self.enabled:
            self._draw(time.monotonic())
            if self.tty:
                sys.stderr.write("\n")
            if message:
                print(message, file=sys.stderr, flush=True)
