"""A run's logs: the CSV logs (one row per logged step, for loss-curve plots), TensorBoard events (optional), the
validation image grids, and the progress display (a bar on a terminal, plain lines elsewhere)."""
from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from colorbench import _atomic as atomic
from colorbench.errors import UserError
from colorbench.train.settings import LOGGERS


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
        atomic.write_csv(self.path, rows, columns=self.fields)

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


class RunLogs:
    """Where a run's numbers go (``logger`` one of :data:`LOGGERS`: ``csv`` writes ``train_log.csv``, ``val_log.csv``
    and ``val_grids/step_NNNNNNN.png``; ``tensorboard`` the same CSV logs plus TensorBoard events, written with
    ``SummaryWriter``). ``out=None``: nowhere (the logger name is still checked). The CSV logs are always
    written (the bench copies ``train_log.csv``; resume truncates them); ``logger="tensorboard"`` adds an event file
    under ``out/tensorboard/`` (``train/<key>`` and ``val/<metric>`` scalars, ``val/grid`` images) and keeps the
    grids there instead of in ``val_grids/``. ``start``: the step a resumed run starts from; rows and events after it
    (logged by a killed session) are dropped."""

    def __init__(self, out: Path | None, logger: str = "csv", start: int = 0) -> None:
        if logger not in LOGGERS:
            raise UserError(f"unknown logger {logger!r}; use one of {', '.join(LOGGERS)}")
        self.out, self.logger = out, logger
        self.train_csv = CsvLog(out / "train_log.csv" if out is not None else None)
        self.val_csv = CsvLog(out / "val_log.csv" if out is not None else None)
        self.writer = None
        if logger == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UserError("--logger tensorboard needs the tensorboard package: pip install "
                                "'colorbench[tensorboard]' (or pip install tensorboard), or use --logger csv") from None
            if out is not None:
                self.writer = SummaryWriter(str(out / "tensorboard"), purge_step=start + 1 if start else None)
        if out is not None:
            self.train_csv.truncate(start)
            self.val_csv.truncate(start)

    def train(self, row: dict[str, Any]) -> None:
        """One logged training step: ``step``, ``epoch``, every loss, ``lr_<optimiser>``, ``images_per_s``, ..."""
        self.train_csv.append(row)
        self._scalars("train", row)

    def val(self, row: dict[str, Any]) -> None:
        """One validation: ``step`` and ``val_<figure>`` for every figure the evaluator reports."""
        self.val_csv.append(row)
        self._scalars("val", {k.removeprefix("val_"): v for k, v in row.items()})

    def _scalars(self, prefix: str, row: dict[str, Any]) -> None:
        """Every number of ``row`` but its step as the TensorBoard scalar ``<prefix>/<key>`` (without TensorBoard:
        nothing)."""
        if self.writer is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{prefix}/{key}", float(value), int(row["step"]))

    def grid(self, step: int, image: Any) -> None:
        """A validation grid (``[3,H,W]`` in [0,1], see :func:`colorbench.train.grid.val_grid`) at ``step``."""
        if self.out is None:
            return
        if self.writer is not None:
            self.writer.add_image("val/grid", image, int(step), dataformats="CHW")
            return
        from colorbench.train.grid import png_bytes

        atomic.write_bytes(self.out / "val_grids" / f"step_{int(step):07d}.png", png_bytes(image))

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _interactive(stream: TextIO) -> bool:
    """A terminal, or a Jupyter kernel (where tqdm draws a widget)."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return True
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


def progress_bar(total: int, initial: int, enabled: bool, desc: str, stream: TextIO | None = None):
    """The progress display on ``stream`` (default stderr): a tqdm bar on a terminal or in a notebook, plain
    log lines (:class:`PlainProgress`, no carriage returns) when it is a file or a pipe, a no-op when disabled."""
    if not enabled:
        return _NoBar()
    stream = stream if stream is not None else sys.stderr
    if not _interactive(stream):
        return PlainProgress(total, initial, desc, stream)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True, smoothing=0.1, file=stream)


class PlainProgress:
    """Progress as whole lines, for logs: ``desc: step N/TOTAL (P%) loss ... img/s ...`` every ``every`` steps
    (default: a twentieth of the run) and at the last step; :meth:`write` prints a line (validation results)."""

    def __init__(self, total: int, initial: int, desc: str, stream: TextIO, every: int | None = None) -> None:
        self.total, self.n, self.desc, self.stream = total, initial, desc, stream
        self.every = every or max(1, total // 20)
        self.postfix: dict[str, str] = {}

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n % self.every == 0 or self.n == self.total:
            pct = 100 * self.n / self.total if self.total else 100.0
            text = " ".join(f"{k} {v}" for k, v in self.postfix.items())
            self.write(f"{self.desc}: step {self.n}/{self.total} ({pct:.0f}%) {text}".rstrip())

    def set_postfix(self, postfix: dict[str, str] | None = None, refresh: bool = False, **kwargs: Any) -> None:
        self.postfix = {**(postfix or {}), **{k: str(v) for k, v in kwargs.items()}}

    def write(self, s: str) -> None:
        print(s, file=self.stream, flush=True)

    def close(self) -> None: ...


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
