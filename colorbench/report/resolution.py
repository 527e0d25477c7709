"""A resolution study rebuilt: quality (SSIM, PSNR) and time against resolution for a method's reference model
and its inference-time variants, beside the published figures (the C2F paper's Table 1: base against C2F at
shrink 1.2/2.0 × depth 1/10; any method that declares ``runtime_reference`` and ``runtime_variants``).

The variants act at inference, so their rows come from ONE trained model called with each setting
(``colorize(L, **Method.inference_kwargs(variant))``), and the reference row from one trained model of the
reference variant. The paper used one photo at four sizes; here the held-out test photos
(``colorbench.data.sample_test_photos()``, at most 1411 px wide) are resized to each resolution, so sizes above a
photo's own are upsampled, which flatters SSIM and PSNR (smooth images). Quality and time come from the same calls;
the published seconds are on unstated hardware, so compare ratios. Every figure is flagged when the trained model
is degenerate at that size (the same thresholds as the tables).
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Sequence

import pandas as pd
import torch

from colorbench.report.figures import Note
from colorbench.report.load import absolute_checkpoints, checkpoint_of, text_variants
from colorbench.report.method_view import resize
from colorbench.report.published import load_published
from colorbench.report.tables import ok_rows

PAPER_SIZES = ("750x500", "1500x1000", "3000x2000", "6000x4000")


def _declared(method: str) -> tuple[str, tuple[str, ...]]:
    from colorbench.registry import get_method

    cls = get_method(method)
    if not cls.runtime_reference or not cls.runtime_variants:
        raise ValueError(f"method {method!r} declares no runtime_reference / runtime_variants to study")
    return cls.runtime_reference, tuple(cls.runtime_variants)


def find_checkpoints(results_dir: str | Path, profile: str, method: str) -> dict[str, dict | None]:
    """``{"model": row, "reference": row}`` (metrics rows as dicts, ``None`` when absent): trained rows of
    ``method`` whose checkpoint is on this machine, looked for in ``results_dir/profile`` first, then in the other
    profiles. The model is any variant but the reference (its settings are applied at call time); the reference is
    the variant the method names in ``runtime_reference``."""
    reference, _ = _declared(method)
    root = Path(results_dir)
    paths = sorted(root.glob(f"{profile}/*/metrics.csv")) + sorted(
        p for p in root.glob("*/*/metrics.csv") if p.parent.parent.name != profile)
    found: dict[str, dict | None] = {"model": None, "reference": None}
    for path in paths:
        df = absolute_checkpoints(pd.read_csv(path), root)
        if "method" not in df:
            continue
        df = text_variants(df)
        for _, r in ok_rows(df)[ok_rows(df)["method"] == method].iterrows():
            role = "reference" if r["variant"] == reference else "model"
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


def availability(found: dict[str, dict | None], method: str) -> Note | None:
    """A note saying which trained model is missing (and how to make it), or None when both are there."""
    reference, _ = _declared(method)
    missing = [k for k, v in found.items() if v is None]
    if not missing:
        return None
    how = {"model": f"a trained `{method}` row (e.g. `make bench`)",
           "reference": f"a trained `{method} [{reference}]` row (e.g. `make bench`)"}
    return Note(f"no trained {' or '.join(missing)} checkpoint of {method} on this machine (the runs/ cache is not "
                "committed), so its rows are left empty; they need " + " and ".join(how[m] for m in missing) + ".")


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
def rebuild(found: dict[str, dict | None], method: str, sizes: Sequence[str] = ("750x500", "1500x1000"),
            photos: int | None = 1, device: str = "cpu", warmup: bool | None = None,
            settings: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table, one row per (setting, resolution): mean ``ssim``, ``psnr`` (dB) and ``seconds`` per image over the
    ``photos`` largest held-out test photos (most pixels first: the least upsampled; all when None) resized to
    ``W×H``, plus ``upsampled`` (how many were enlarged) and ``flags`` (a degenerate prediction at that size: the
    tables' thresholds on its ab std and colourfulness). ``setting`` is the reference or a variant name; a missing
    model's rows are absent. ``warmup`` (default: on CUDA only) runs one untimed call per setting and size first."""
    from colorbench import metrics
    from colorbench.checkpoint import load_method
    from colorbench.color import network_to_rgb, rgb_to_network
    from colorbench.data import sample_test_photos
    from colorbench.registry import get_method

    reference, declared = _declared(method)
    settings = declared if settings is None else tuple(settings)
    cls = get_method(method)
    ranked = sorted(sample_test_photos(), key=lambda p: -p[1].shape[-1] * p[1].shape[-2])
    chosen = ranked[:photos] if photos else ranked
    dev = torch.device(device)
    warmup = dev.type == "cuda" if warmup is None else warmup
    jobs = []
    if found.get("reference"):
        jobs.append((reference, found["reference"], {}))
    if found.get("model"):
        jobs += [(s, found["model"], cls.inference_kwargs(s)) for s in settings]
    models: dict[str, object] = {}
    out = []
    for size in sizes:
        w, h = _parse(size)
        for name, row, kw in jobs:
            ckpt = str(row["checkpoint"])
            if ckpt not in models:
                models[ckpt] = load_method(ckpt, map_location=dev)
            method = models[ckpt]
            ssim, psnr, secs, up, flags = [], [], [], 0, set()
            for i, (_, rgb) in enumerate(chosen):
                up += int(w > rgb.shape[-1] or h > rgb.shape[-2])
                truth = resize(rgb, h, w)[None].to(dev)
                L, _ = rgb_to_network(truth)
                if warmup and i == 0:
                    _timed(method, L, **kw)
                ab, s = _timed(method, L, **kw)
                pred = network_to_rgb(L, ab).clamp(0, 1)
                flags.update(_degenerate(ab, pred, truth))
                ssim.append(float(metrics.ssim(pred, truth)[0]))
                psnr.append(float(metrics.psnr(pred, truth)[0]))
                secs.append(s)
            out.append({"setting": name, "resolution": size, "ssim": sum(ssim) / len(ssim),
                        "psnr": sum(psnr) / len(psnr), "seconds": sum(secs) / len(secs),
                        "photos": len(chosen), "upsampled": up, "flags": "; ".join(sorted(flags)),
                        "profile": row.get("profile", "")})
    return pd.DataFrame(out)


def _degenerate(ab: torch.Tensor, pred: torch.Tensor, truth: torch.Tensor) -> list[str]:
    """The tables' degenerate-output rules (:data:`colorbench.metrics.DEGENERATE`) on one prediction."""
    from colorbench import metrics
    from colorbench.color import AB_SCALE, rgb_to_lab

    true_ab = rgb_to_lab(truth.double())[:, 1:]
    values = {"ab_std": float((ab.double() * AB_SCALE).flatten(2).std(dim=2, unbiased=False).mean()),
              "ab_std_true": float(true_ab.flatten(2).std(dim=2, unbiased=False).mean()),
              "colorfulness": float(metrics.colorfulness(pred)[0]),
              "colorfulness_true": float(metrics.colorfulness(truth)[0])}
    return [f"degenerate: {rule.reason}" for rule in metrics.DEGENERATE if rule.check(values)]


def published_table1(method: str) -> pd.DataFrame:
    """The published resolution study of the rows ``method`` reproduces as a long table: setting (our variant
    names), resolution, ssim, psnr, seconds (published rows with a resolution of the form ``WxH``)."""
    rec: dict[tuple[str, str], dict] = {}
    for r in load_published():
        if r.ours[0] == method and r.metric in ("ssim", "psnr", "seconds") and "x" in r.resolution \
                and r.resolution.replace("x", "").isdigit():
            rec.setdefault((r.ours[1], r.resolution), {})[r.metric] = r.value
    return pd.DataFrame([{"setting": s, "resolution": res, **v} for (s, res), v in rec.items()])


def published_wide(method: str) -> pd.DataFrame:
    """The published study as one wide table: index = setting, columns (metric, resolution) in pixel order."""
    reference, settings = _declared(method)
    pub = published_table1(method)
    wide = pub.pivot(index="setting", columns="resolution")
    order = sorted(pub["resolution"].unique(), key=lambda s: math.prod(_parse(s)))
    return wide.reindex(columns=[(m, r) for m in ("ssim", "psnr", "seconds") for r in order],
                        index=[reference, *settings])


def side_by_side(measured: pd.DataFrame, method: str, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """Wide table: index = setting (the reference first), per resolution the measured and published SSIM, PSNR,
    seconds and the time ratio to the reference (``× ref``), published columns marked ``paper``, and the
    measured rows' flags. Resolutions measured only."""
    reference, rest = _declared(method)
    published = published_table1(method) if published is None else published
    settings = [reference, *rest]
    sizes = list(dict.fromkeys(measured["resolution"])) if not measured.empty else []
    table = pd.DataFrame(index=settings)
    for size in sizes:
        m = measured[measured["resolution"] == size].set_index("setting")
        p = published[published["resolution"] == size].set_index("setting")
        for metric in ("ssim", "psnr", "seconds"):
            table[f"{size} {metric}"] = m[metric].reindex(settings) if metric in m else math.nan
            table[f"{size} {metric} (paper)"] = p[metric].reindex(settings) if metric in p else math.nan
        for src, frame in (("", m), (" (paper)", p)):
            base = frame["seconds"].get(reference, math.nan) if "seconds" in frame else math.nan
            secs = frame["seconds"].reindex(settings) if "seconds" in frame else pd.Series(math.nan, index=settings)
            table[f"{size} × ref{src}"] = secs / base
        if "flags" in m:
            table[f"{size} flags"] = m["flags"].reindex(settings).fillna("")
    return table
