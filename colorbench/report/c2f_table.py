"""The C2F paper's Table 1 rebuilt (SSIM, PSNR and seconds against resolution, base vs C2F at shrink 1.2/2.0 ×
depth 1/10), beside the published figures, with time ratios to the base model.

As CORRECTIONS.md (issue 7) says: shrink size and depth act at inference, so the C2F rows come from ONE trained
C2F model called with each setting (``colorize(L, shrink_size=, max_c2f_depth=)``, the settings read from the
method's declared variants), and the base row from one trained ``c2f [base]`` model. The paper used one photo at
four sizes; here the held-out test photos (``colorbench.data.sample_test_photos()``, at most 1411 px wide) are
resized to each resolution, so sizes above a photo's own are upsampled, which flatters SSIM and PSNR (smooth images).
Quality and time come from the same calls; the published seconds are on unstated hardware, so compare ratios.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from colorbench.bench.published import load_published
from colorbench.report.figures import Note
from colorbench.report.load import absolute_checkpoints, checkpoint_of, ok_rows
from colorbench.report.method_view import resize

C2F_SETTINGS = ("s1.2_d1", "s1.2_d10", "s2.0_d1", "s2.0_d10")
PAPER_SIZES = ("750x500", "1500x1000", "3000x2000", "6000x4000")


def find_checkpoints(results_dir: str | Path, profile: str) -> dict[str, dict | None]:
    """``{"c2f": row, "base": row}`` (metrics rows as dicts, ``None`` when absent): trained ``c2f`` rows whose
    checkpoint is on this machine, looked for in ``results_dir/profile`` first, then in the other profiles (the
    ``ablations`` profile trains ``base``). The C2F model is any non-base variant (the settings are applied at
    call time); ``base`` is the variant of that name."""
    root = Path(results_dir)
    paths = sorted(root.glob(f"{profile}/*/metrics.csv")) + sorted(
        p for p in root.glob("*/*/metrics.csv") if p.parent.parent.name != profile)
    found: dict[str, dict | None] = {"c2f": None, "base": None}
    for path in paths:
        df = absolute_checkpoints(pd.read_csv(path), root)
        if "method" not in df:
            continue
        df["variant"] = df["variant"].astype(object).fillna("default").astype(str)
        for _, r in ok_rows(df)[ok_rows(df)["method"] == "c2f"].iterrows():
            role = "base" if r["variant"] == "base" else "c2f"
            if found[role] is None and checkpoint_of(r) is not None:
                found[role] = dict(r) | {"profile": path.parent.parent.name}
    return found


def describe(row: dict | None, results_dir: str | Path) -> str | None:
    """``profile / variant / checkpoint`` of a found row, the checkpoint relative to the results folder's parent
    (no machine-specific absolute paths in committed notebooks)."""
    if row is None:
        return None
    ckpt = Path(str(row["checkpoint"]))
    try:
        ckpt = ckpt.relative_to(Path(results_dir).resolve().parent)
    except ValueError:
        pass
    return f"profile {row.get('profile', '')}, variant {row['variant']}, checkpoint {ckpt}"


def availability(found: dict[str, dict | None]) -> Note | None:
    """A note saying which trained model is missing (and how to make it), or None when both are there."""
    missing = [k for k, v in found.items() if v is None]
    if not missing:
        return None
    how = {"c2f": "a trained `c2f` row (e.g. `colorbench bench --profile quick`)",
           "base": "a trained `c2f [base]` row (`colorbench bench --profile ablations --methods c2f`)"}
    if len(missing) == 2:
        return Note("these results have no trained c2f or base checkpoint on this machine, so Table 1 cannot be "
                    "rebuilt here; it needs " + " and ".join(how[m] for m in missing) + ".")
    return Note(f"no trained {'base' if missing == ['base'] else 'C2F'} checkpoint on this machine: its rows are "
                f"left empty; they need {how[missing[0]]}.")


def _parse(size: str) -> tuple[int, int]:
    w, h = (int(x) for x in size.lower().split("x"))
    return w, h


def _timed(method, L: torch.Tensor, **settings) -> tuple[torch.Tensor, float]:
    if L.device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(L.device)
        start.record()
        ab = method.colorize(L, **settings)
        end.record()
        torch.cuda.synchronize(L.device)
        return ab, start.elapsed_time(end) / 1000.0
    t0 = time.perf_counter()
    ab = method.colorize(L, **settings)
    return ab, time.perf_counter() - t0


@torch.no_grad()
def rebuild_table1(found: dict[str, dict | None], sizes: Sequence[str] = ("750x500", "1500x1000"),
                   photos: int | None = 1, settings: Sequence[str] = C2F_SETTINGS, device: str = "cpu",
                   warmup: bool | None = None) -> pd.DataFrame:
    """Long table, one row per (setting, resolution): mean ``ssim``, ``psnr`` (dB) and ``seconds`` per image over the
    ``photos`` largest held-out test photos (most pixels first: the least upsampled; all when None) resized to
    ``W×H``, plus ``upsampled`` (how many were enlarged). ``setting`` is ``base`` or a c2f variant name; a missing
    model's rows are absent. ``warmup`` (default: on CUDA only) runs one untimed call per setting and size first."""
    from colorbench import metrics
    from colorbench.checkpoint import load_method
    from colorbench.color import network_to_rgb, rgb_to_network
    from colorbench.data import sample_test_photos
    from colorbench.registry import get_method

    ranked = sorted(sample_test_photos(), key=lambda p: -p[1].shape[-1] * p[1].shape[-2])
    chosen = ranked[:photos] if photos else ranked
    dev = torch.device(device)
    warmup = dev.type == "cuda" if warmup is None else warmup
    jobs = []
    if found.get("base"):
        jobs.append(("base", found["base"], {}))
    if found.get("c2f"):
        declared = get_method("c2f").variants
        jobs += [(s, found["c2f"], {k: declared[s][k] for k in ("shrink_size", "max_c2f_depth")}) for s in settings]
    models: dict[str, object] = {}
    out = []
    for size in sizes:
        w, h = _parse(size)
        for name, row, kw in jobs:
            ckpt = str(row["checkpoint"])
            if ckpt not in models:
                models[ckpt] = load_method(ckpt, map_location=dev)
            method = models[ckpt]
            ssim, psnr, secs, up = [], [], [], 0
            for i, (_, rgb) in enumerate(chosen):
                up += int(w > rgb.shape[-1] or h > rgb.shape[-2])
                truth = resize(rgb, h, w)[None].to(dev)
                L, _ = rgb_to_network(truth)
                if warmup and i == 0:
                    _timed(method, L, **kw)
                ab, s = _timed(method, L, **kw)
                pred = network_to_rgb(L, ab).clamp(0, 1)
                ssim.append(float(metrics.ssim(pred, truth)[0]))
                psnr.append(float(metrics.psnr(pred, truth)[0]))
                secs.append(s)
            out.append({"setting": name, "resolution": size, "ssim": sum(ssim) / len(ssim),
                        "psnr": sum(psnr) / len(psnr), "seconds": sum(secs) / len(secs),
                        "photos": len(chosen), "upsampled": up, "profile": row.get("profile", "")})
    return pd.DataFrame(out)


def published_table1() -> pd.DataFrame:
    """The paper's Table 1a-c as a long table: setting (our variant names, ``base``), resolution, ssim, psnr,
    seconds."""
    rec: dict[tuple[str, str], dict] = {}
    for r in load_published():
        if r.source == "c2f" and r.table in ("Table 1a", "Table 1b", "Table 1c"):
            rec.setdefault((r.ours[1], r.resolution), {})[r.metric] = r.value
    return pd.DataFrame([{"setting": s, "resolution": res, **v} for (s, res), v in rec.items()])


def published_wide() -> pd.DataFrame:
    """The paper's Table 1a-c as one wide table: index = setting, columns (metric, resolution) in pixel order."""
    pub = published_table1()
    wide = pub.pivot(index="setting", columns="resolution")
    order = sorted(pub["resolution"].unique(), key=lambda s: math.prod(_parse(s)))
    return wide.reindex(columns=[(m, r) for m in ("ssim", "psnr", "seconds") for r in order],
                        index=["base", *C2F_SETTINGS])


def side_by_side(measured: pd.DataFrame, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """Wide table: index = setting (base first), per resolution the measured and published SSIM, PSNR, seconds and
    the time ratio to base (``× base``), published columns marked ``paper``. Resolutions measured only."""
    published = published_table1() if published is None else published
    settings = ["base", *C2F_SETTINGS]
    sizes = list(dict.fromkeys(measured["resolution"])) if not measured.empty else []
    table = pd.DataFrame(index=settings)
    for size in sizes:
        m = measured[measured["resolution"] == size].set_index("setting")
        p = published[published["resolution"] == size].set_index("setting")
        for metric in ("ssim", "psnr", "seconds"):
            table[f"{size} {metric}"] = m[metric].reindex(settings) if metric in m else math.nan
            table[f"{size} {metric} (paper)"] = p[metric].reindex(settings) if metric in p else math.nan
        for src, frame in (("", m), (" (paper)", p)):
            base = frame["seconds"].get("base", math.nan) if "seconds" in frame else math.nan
            secs = frame["seconds"].reindex(settings) if "seconds" in frame else pd.Series(math.nan, index=settings)
            table[f"{size} × base{src}"] = secs / base
    return table
