"""The best-by-metric checkpoint: ``checkpoints/best-<metric>/`` holds the weights of the validation step with the
best value of one declared metric, its direction read from the metric's ``goal`` in :mod:`colorbench.metrics.table`."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

from colorbench.errors import UserError

FOLDER = "best-{metric}"


def goal_of(metric: str) -> str:
    """``"higher"`` or ``"lower"``: the declared goal of ``metric``; any other metric is a one-line UserError."""
    from colorbench.metrics.table import METRICS

    ranked = sorted(name for name, info in METRICS.items() if info.goal in ("higher", "lower"))
    info = METRICS.get(metric)
    if info is None or info.goal not in ("higher", "lower"):
        why = "is not a declared metric" if info is None else f"has goal {info.goal!r}, not higher or lower"
        raise UserError(f"--keep-best {metric!r} {why}; use one whose goal is higher or lower: {', '.join(ranked)} "
                        "(`colorbench list metrics`)")
    return info.goal


class Best:
    """Tracks the best validation value of ``metric`` in a run folder (``out``: None = no run folder).

    The value and step of the checkpoint already on disk are read back from its ``config.json`` (``best`` record),
    so a resumed run goes on comparing against it. NaN values are never best; ties keep the earlier step."""

    def __init__(self, metric: str, out: Path | None) -> None:
        self.metric, self.goal = metric, goal_of(metric)
        self.folder = out / "checkpoints" / FOLDER.format(metric=metric) if out is not None else None
        self.value: float | None = None
        self.step: int | None = None
        self._warned = False
        if self.folder is not None and (self.folder / "config.json").is_file():
            try:
                record = json.loads((self.folder / "config.json").read_text(encoding="utf-8")).get("best", {})
                self.value, self.step = float(record["value"]), int(record["step"])
            except (ValueError, KeyError, TypeError, AttributeError):
                self.value = self.step = None  # unreadable: the next validation writes a new one

    def offer(self, step: int, row: dict[str, float]) -> bool:
        """Whether validation ``row`` (``{"val_<metric>": ...}``) at ``step`` beats the best so far (then recorded)."""
        value = row.get(f"val_{self.metric}")
        if value is None:
            if not self._warned:
                warnings.warn(f"--keep-best {self.metric}: validation reports no {self.metric} (it reports "
                              f"{', '.join(k[4:] for k in row if k.startswith('val_'))}); no best checkpoint is "
                              "kept", stacklevel=2)
                self._warned = True
            return False
        value = float(value)
        if math.isnan(value):
            return False
        better = self.value is None or (value > self.value if self.goal == "higher" else value < self.value)
        if better:
            self.value, self.step = value, int(step)
        return better

    def record(self) -> dict[str, float | int | str]:
        """The ``best`` entry of the checkpoint's ``config.json``."""
        return {"metric": self.metric, "goal": self.goal, "value": self.value, "step": self.step}
