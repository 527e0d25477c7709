"""The loss log (CSV, one row per logged step, for loss-curve plots) and the progress bar."""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any


class CsvLog:
    """Rows appended to ``path``; the header grows once if a later row brings new keys.

    On resume, :meth:`truncate` drops the rows after the checkpoint's step (a killed run may have logged steps that
    the resumed run trains again), so the log has each step once.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.fields: list[str] = []
        if path is not None and path.is_file():
            with path.open(newline="") as f:
                self.fields = next(csv.reader(f), [])

    def truncate(self, last_step: int) -> None:
        if self.path is None or not self.path.is_file():
            return
        with self.path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("step") and int(r["step"]) <= last_step]
        self._rewrite(rows)

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        assert self.path is not None
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path)

    def append(self, row: dict[str, Any]) -> None:
        if self.path is None:
            return
        new = [k for k in row if k not in self.fields]
        if new:
            old_rows = []
            if self.path.is_file():
                with self.path.open(newline="") as f:
                    old_rows = list(csv.DictReader(f))
            self.fields += new
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rewrite(old_rows)
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore").writerow(
                {k: _fmt(v) for k, v in row.items()})


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return value


def progress_bar(total: int, initial: int, enabled: bool, desc: str):
    """A tqdm bar (or a no-op stand-in when disabled)."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, smoothing=0.1)


class _NoBar:
    def update(self, n: int = 1) -> None: ...
    def set_postfix(self, *a: Any, **k: Any) -> None: ...
    def close(self) -> None: ...
    def write(self, s: str) -> None: ...


def postfix(losses: dict[str, float], images_per_s: float) -> dict[str, str]:
    """Compact bar text: each loss to 4 significant digits and images/s."""
    out = {k: f"{v:.4g}" for k, v in losses.items()}
    out["img/s"] = f"{images_per_s:.1f}"
    return out
