"""The streaming evaluator: feed predictions batch by batch, read dataset-level figures and per-image records.

    ev = Evaluator(method_name="pix2pix")
    for batch in loader:
        ev.update(method.colorize(batch["L"]), batch)   # pred ab: [B,2,H,W] ab/110
    figures = ev.compute()      # {"psnr": ..., "ssim": ..., "js_a": ..., "kl_b": ..., "n_images": ...}
    rows = ev.records           # one dict per image: index, psnr, ssim, colorfulness, ..., delta_e76

or, for a whole dataset in one call (what the bench, ``colorbench eval`` and validation use)::

    result = evaluate(method, dataset, batch_size=16, max_images=None, samples=4)

RGB is rebuilt from the batch's true L and the predicted ab (``colorbench.color.network_to_rgb``, gamut-clipped);
the truth is the batch's ``"rgb"`` (the photo itself) when present, else the rebuild from the true L and ab.
Per-image metrics are averaged over images; the ab histograms are pooled counts (``AbHistogram``), so memory is
bounded: a ``[2,220]`` count table per side plus one small record and each image's own ``[2,2,220]`` counts (truth,
prediction; what a bootstrap over test photos re-pools) per image (``keep_records=False`` drops those).

Which figures: ``metrics`` (names and groups of :data:`colorbench.metrics.table.GROUPS`, see
:func:`colorbench.metrics.table.select`); every figure that needs no weights is always computed, those that need
pretrained files (LPIPS, the two FIDs) only when named, and then the constructor checks every file first and raises
``UserError`` naming ``colorbench weights fetch`` when one is missing. Per-image figures are computed by the functions
their :data:`~colorbench.metrics.METRICS` rows name; the weighted ones (LPIPS per image, Inception features for
the FIDs) in one batched pass per batch on the prediction's device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch

from colorbench.color import AB_SCALE, denormalize_l, network_to_rgb, rgb_to_lab
from colorbench._threads import cpu_map
from colorbench.metrics import AbHistogram, ab_counts_per_image, divergence_from_histograms
from colorbench.metrics.table import METRICS, MetricInfo, select

GAMUT_TOLERANCE = 0.5 / 255  # half an 8-bit level: rounding at the gamut's edge is not clipping
_CPU_CHUNK_PIXELS = 1 << 17  # pixels per CPU chunk, one chunk per worker thread (as metrics.structural)


class NonFiniteError(ValueError):
    """A prediction holds NaN or inf values."""


class Evaluator:
    """Accumulates metrics over a test set. ``method_name`` appears in every error message.

    ``legacy_histograms``: KL on mean-count histograms (the published form) instead of normalised ones.
    ``metrics``: what to compute (None: every figure that needs no weights; else names and groups, e.g.
    ``"field"``); a weighted metric whose files are missing raises ``UserError`` here, before any work.
    """

    def __init__(self, method_name: str = "prediction", legacy_histograms: bool = False,
                 keep_records: bool = True, metrics: str | list[str] | tuple[str, ...] | None = None) -> None:
        from colorbench.metrics.weighted import require

        self.method_name = method_name
        self.legacy_histograms = legacy_histograms
        self.keep_records = keep_records
        self.metrics = select(metrics)
        rows = [METRICS[m] for m in self.metrics]
        require(m.name for m in rows if m.weights)
        self._plain = [m for m in rows if m.per_image and not m.weights]
        self._paired = [m for m in rows if m.per_image and m.weights]  # LPIPS: per image, needs a network
        self._features = [m for m in rows if m.pooled == "features"]
        self._gaps = [m for m in rows if m.pooled == "mean_gap"]
        self._names = tuple(m.name for m in self._plain + self._paired)
        self.reset()

    def reset(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.hist_true, self.hist_pred = AbHistogram(), AbHistogram()
        self._sums = dict.fromkeys(self._names, 0.0)
        self._n_images = 0
        self._n_batches = 0
        self._moments = torch.zeros(len(_MOMENTS), dtype=torch.float64)  # pixel sums, see _MOMENTS
        self.item_counts: list[torch.Tensor] = []  # per batch [n,2,2,220] int64: (truth, prediction) x (a, b)
        self._pixels = 0
        from colorbench.metrics.fid import FeatureStats

        self._stats = {m.name: (FeatureStats(), FeatureStats()) for m in self._features}  # (truth, prediction)

    # ------------------------------------------------------------------------------------------- update
    def _where(self) -> str:
        return f"Evaluator(method {self.method_name!r}), batch {self._n_batches}"

    def _check(self, pred_ab: torch.Tensor, batch: Mapping[str, Any]) -> None:
        if not isinstance(pred_ab, torch.Tensor) or pred_ab.ndim != 4 or pred_ab.shape[1] != 2:
            shape = tuple(pred_ab.shape) if isinstance(pred_ab, torch.Tensor) else type(pred_ab).__name__
            raise ValueError(f"{self._where()}: the prediction must be ab/110 of shape [B,2,H,W]; got {shape}")
        for key in ("L", "ab"):
            if key not in batch:
                raise ValueError(f"{self._where()}: the batch has no {key!r}; pass the dataset's batch dict "
                                 f"(keys L, ab, rgb, index); it has {sorted(batch)}")
        if pred_ab.shape != batch["ab"].shape:
            raise ValueError(f"{self._where()}: predicted ab has shape {tuple(pred_ab.shape)} but the true ab has "
                             f"{tuple(batch['ab'].shape)}; colorize() must return ab at the input's size")
        if not pred_ab.is_floating_point():
            raise TypeError(f"{self._where()}: the prediction must be a float tensor; got {pred_ab.dtype}")
        if bool(torch.isfinite(pred_ab.sum())):  # one cheap pass; the full mask only when something is wrong
            return
        finite = torch.isfinite(pred_ab)
        if not bool(finite.all()):
            bad_images = (~finite).flatten(1).any(dim=1).nonzero().flatten().tolist()
            index = batch.get("index")
            if index is not None:
                bad_images = [int(index[i]) for i in bad_images]
            raise NonFiniteError(
                f"{self._where()}: method {self.method_name!r} predicted {int((~finite).sum())} NaN/inf ab values in "
                f"{len(bad_images)} image(s) (dataset index {bad_images[:10]}{' ...' if len(bad_images) > 10 else ''})"
                "; the checkpoint probably diverged: check its loss log, or evaluate an earlier checkpoint")

    @torch.no_grad()
    def update(self, pred_ab: torch.Tensor, batch: Mapping[str, Any]) -> None:
        """Add one batch: ``pred_ab`` ``[B,2,H,W]`` ab/110 and the dataset batch (``L`` ``[B,1,H,W]`` L/50-1,
        ``ab`` ``[B,2,H,W]`` ab/110, optional ``rgb`` ``[B,3,H,W]`` in [0,1], ``index`` ``[B]`` and ``valid``
        ``[B,1,H,W]`` bool). With ``valid`` (padded batches: ``crop="pad"``), each image is scored on its valid
        rectangle only, so padding never counts in a figure."""
        valid = batch.get("valid")
        if valid is not None and not bool(valid.all()):
            if isinstance(pred_ab, torch.Tensor) and "ab" in batch and pred_ab.shape != batch["ab"].shape:
                self._check(pred_ab, batch)  # the shape error, before any cropping
            for one_pred, one_batch in _valid_parts(pred_ab, batch, self._n_images):
                self._update(one_pred, one_batch)  # checked (NaN included) on the valid pixels only
            self._n_batches += 1
            return
        self._update(pred_ab, batch)
        self._n_batches += 1

    def _update(self, pred_ab: torch.Tensor, batch: Mapping[str, Any]) -> None:
        self._check(pred_ab, batch)
        device = pred_ab.device
        dtype = torch.float64 if pred_ab.dtype == torch.float64 else torch.float32  # bf16/fp16 predictions too
        pred_ab = pred_ab.to(dtype)
        L, true_ab = batch["L"].to(device=device, dtype=dtype), batch["ab"].to(device=device, dtype=dtype)
        true_rgb_all = batch.get("rgb")
        n, (h, w) = pred_ab.shape[0], pred_ab.shape[-2:]
        index = batch.get("index")
        index = [int(i) for i in index] if index is not None else list(range(self._n_images, self._n_images + n))
        step = n if device.type == "cuda" else max(1, _CPU_CHUNK_PIXELS // (h * w))

        def chunk(i: int) -> tuple[torch.Tensor, torch.Tensor, Any, torch.Tensor]:
            """Metrics ``[b,k]`` (the weight-free per-image rows), each image's histogram counts ``[b,2,2,220]``
            (truth, prediction), (pred_rgb, true_rgb) when the weighted metrics need them, and the pixel sums of
            :data:`_MOMENTS`, all on the prediction's device (float64 but on MPS, which has none): no host
            round-trip."""
            sl = slice(i, i + step)
            pred_rgb = network_to_rgb(L[sl], pred_ab[sl], clip=False)
            outside_mask = ((pred_rgb < -GAMUT_TOLERANCE) | (pred_rgb > 1 + GAMUT_TOLERANCE)).any(dim=1)
            pred_rgb = pred_rgb.clamp_(0.0, 1.0)
            wide = torch.float64 if device.type != "mps" else torch.float32
            ab_lab = pred_ab[sl].to(wide) * AB_SCALE
            true_lab = true_ab[sl].to(wide) * AB_SCALE
            moments = torch.stack((outside_mask.sum().to(wide), ab_lab[:, 0].sum(), ab_lab[:, 0].square().sum(),
                                   ab_lab[:, 1].sum(), ab_lab[:, 1].square().sum(), true_lab[:, 0].sum(),
                                   true_lab[:, 0].square().sum(), true_lab[:, 1].sum(), true_lab[:, 1].square().sum(),
                                   _clipping_delta_e(L[sl], pred_ab[sl], pred_rgb, outside_mask).to(wide),
                                   true_lab.square().sum(dim=1).sqrt().sum()))
            if true_rgb_all is not None:
                true_rgb = true_rgb_all[sl].to(device=device, dtype=pred_rgb.dtype)
            else:
                true_rgb = network_to_rgb(L[sl], true_ab[sl])
            feeds = {"rgb": (pred_rgb, true_rgb), "ab": (pred_ab[sl], true_ab[sl]), "pred_rgb": (pred_rgb,),
                     "true_rgb": (true_rgb,)}
            values = torch.stack([_call(m, feeds) for m in self._plain], dim=1)
            values = values.double() if device.type != "mps" else values
            rgbs = (pred_rgb, true_rgb) if self._weighted else None
            counts = torch.stack((ab_counts_per_image(true_ab[sl]), ab_counts_per_image(pred_ab[sl])), dim=1)
            return values, counts, rgbs, moments

        starts = range(0, n, step)
        try:
            if device.type == "cpu":
                pieces = cpu_map(chunk, starts)  # single-threaded ops on worker threads (see colorbench._threads)
            else:
                pieces = [chunk(i) for i in starts]
        except ValueError as exc:
            raise ValueError(f"{self._where()}: {exc}") from exc
        values = torch.cat([p[0] for p in pieces])
        if self._weighted:
            pred_rgb, true_rgb = (torch.cat([p[2][k] for p in pieces]) for k in (0, 1))
            paired = self._update_weighted(pred_rgb, true_rgb)
            if paired:
                values = torch.cat((values, torch.stack(paired, dim=1).to(values)), dim=1)
        values, moments, counts = _to_host(values, sum(p[3] for p in pieces), torch.cat([p[1] for p in pieces]))
        pooled = counts.sum(dim=0)  # [2,2,220]: exact integer sums
        self.hist_true.add_counts(pooled[0], n)
        self.hist_pred.add_counts(pooled[1], n)
        if self.keep_records:
            self.item_counts.append(counts)
        self._moments += moments
        self._pixels += n * h * w
        values = values.tolist()
        names = self._names
        for idx, vals in zip(index, values):
            record = dict(zip(names, vals))
            for key in names:
                self._sums[key] += record[key]
            if self.keep_records:
                self.records.append({"index": idx, **record})
        self._n_images += n

    @property
    def _weighted(self) -> bool:
        return bool(self._paired or self._features)

    def _update_weighted(self, pred_rgb: torch.Tensor, true_rgb: torch.Tensor) -> list[torch.Tensor]:
        """The networks' part of one batch (``[n,3,H,W]`` sRGB each): each LPIPS row's ``[n]`` values (returned,
        in ``_paired`` order) and each FID row's features, added to its statistics. Per extractor, the truth and
        the prediction go through the network in one batched pass, unless the truth batch is cached."""
        from colorbench.metrics import fid

        out = [m.function()(pred_rgb.device, **dict(m.options))(pred_rgb, true_rgb) for m in self._paired]
        for m in self._features:
            opts = dict(m.options)
            net = fid.build(pred_rgb.device, **opts)
            cached = fid.truth_features(net, opts["extractor"], true_rgb)
            if cached is None:
                both = net(torch.cat((true_rgb, pred_rgb)))
                true_f, pred_f = both[: len(true_rgb)], both[len(true_rgb):]
                fid.remember_truth(net, opts["extractor"], true_rgb, true_f)
            else:
                true_f, pred_f = cached, net(pred_rgb)
            self._stats[m.name][0].add(true_f)
            self._stats[m.name][1].add(pred_f)
        return out

    # ------------------------------------------------------------------------------------------ compute
    @property
    def n_images(self) -> int:
        return self._n_images

    def histograms(self) -> dict[str, Any]:
        """The pooled histograms and their divergence (see ``metrics.divergence_from_histograms``), for plots."""
        return divergence_from_histograms(self.hist_true, self.hist_pred, legacy=self.legacy_histograms)

    def compute(self) -> dict[str, Any]:
        """Dataset-level figures: the mean of every per-image metric (an ``inf`` PSNR makes the mean ``inf``),
        ``js_a``, ``js_b``, ``kl_a``, ``kl_b`` from the pooled histograms, the gaps of means (the papers' ΔCF), the
        Fréchet distances asked for, the diagnostics, ``n_images`` and ``histogram_form``."""
        if self._n_images == 0:
            raise ValueError(f"Evaluator(method {self.method_name!r}): no images were evaluated; call update() first")
        out: dict[str, Any] = {key: self._sums[key] / self._n_images for key in self._sums}
        div = self.histograms()
        out.update({key: div[key] for key in ("js_a", "js_b", "kl_a", "kl_b")})
        for m in self._gaps:
            opts = dict(m.options)
            out[m.name] = abs(out[opts["truth"]] - out[opts["of"]])
        if self._features:
            from colorbench.metrics.fid import frechet_from_stats

            for m in self._features:
                out[m.name] = frechet_from_stats(*self._stats[m.name])
        out.update(self.diagnostics())
        out["n_images"] = self._n_images
        out["histogram_form"] = div["form"]
        return out

    def diagnostics(self) -> dict[str, float]:
        """The figures behind the degenerate-output flags (``colorbench.metrics.DEGENERATE``), over every pixel:
        ``ab_std`` (Lab units: the pooled standard deviation of the predicted a and of b, their mean) and
        ``ab_std_true`` (the same of the truth), ``gamut_clipped`` (share of pixels whose predicted colour leaves
        the sRGB gamut by more than half an 8-bit level), ``gamut_delta_e`` (ΔE76: mean distance between the
        predicted Lab colour and the sRGB colour shown for it, 0 for an in-gamut pixel) and ``chroma_true`` (Lab
        units: the truth's mean chroma, sqrt(a² + b²))."""
        n = float(max(self._pixels, 1))
        m = dict(zip(_MOMENTS, self._moments.tolist()))

        def std(side: str) -> float:
            return sum(math.sqrt(max(m[f"{side}{ch}2"] / n - (m[f"{side}{ch}"] / n) ** 2, 0.0)) for ch in "ab") / 2

        return {"ab_std": std("pred_"), "ab_std_true": std("true_"), "gamut_clipped": m["outside"] / n,
                "gamut_delta_e": m["clip_delta_e"] / n, "chroma_true": m["true_chroma"] / n}


def _call(m: MetricInfo, feeds: Mapping[str, tuple[torch.Tensor, ...]]) -> torch.Tensor:
    """One per-image row's ``[b]`` values: its function on its inputs, with its options."""
    return m.function()(*feeds[m.inputs], **dict(m.options))


_MOMENTS = ("outside", "pred_a", "pred_a2", "pred_b", "pred_b2", "true_a", "true_a2", "true_b", "true_b2",
            "clip_delta_e", "true_chroma")
"""The evaluator's pixel sums (Lab units): out-of-gamut pixels, Σa, Σa², Σb, Σb² of the prediction and of the truth,
Σ ΔE76 between each predicted colour and its gamut-clipped display, Σ the truth's chroma."""


def _clipping_delta_e(L: torch.Tensor, pred_ab: torch.Tensor, shown_rgb: torch.Tensor,
                      outside: torch.Tensor) -> torch.Tensor:
    """Σ over the ``outside`` pixels (``[b,H,W]`` bool) of the ΔE76 between the predicted Lab colour (true L
    ``[b,1,H,W]`` L/50-1, ``pred_ab`` ``[b,2,H,W]`` ab/110) and the colour shown for it (``shown_rgb``
    ``[b,3,H,W]``, clipped to [0,1]); a scalar tensor. In-gamut pixels count 0 (their round trip is exact up to
    rounding). On the CPU only the outside pixels are converted; on an accelerator every pixel is, masked after, so
    nothing waits for the host."""
    wanted = torch.cat((denormalize_l(L.to(shown_rgb.dtype)), pred_ab.to(shown_rgb.dtype) * AB_SCALE), dim=1)
    if shown_rgb.device.type != "cpu":
        dist = (rgb_to_lab(shown_rgb) - wanted).square().sum(dim=1).sqrt()
        return torch.where(outside, dist, torch.zeros_like(dist)).sum()
    k = int(outside.sum())
    if k == 0:
        return torch.zeros((), dtype=shown_rgb.dtype)
    shown = rgb_to_lab(shown_rgb.transpose(0, 1)[:, outside].reshape(1, 3, 1, k))
    wanted = wanted.transpose(0, 1)[:, outside].reshape(1, 3, 1, k)
    return (shown - wanted).square().sum(dim=1).sqrt().sum()


def _to_host(values: torch.Tensor, moments: torch.Tensor, counts: torch.Tensor,
             pack: bool | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One batch's per-image metrics ``[n,k]``, pixel sums ``[len(_MOMENTS)]`` and each image's histogram counts
    ``[n,2,2,220]`` on the CPU (float64, float64, int64). On CUDA they travel packed in one float64 tensor: one copy
    per batch, not one per image or per figure (counts are exact in float64 below 2**53 pixels). ``pack``: force
    either way (tests)."""
    if not (values.device.type == "cuda" if pack is None else pack):  # CPU: a no-op; MPS: float64 after the copy
        return values.cpu().double(), moments.cpu().double(), counts.cpu()
    (n, c), k = values.shape, moments.numel()
    packed = torch.cat((values.double().flatten(), moments.double(), counts.double().flatten())).cpu()
    return (packed[: n * c].view(n, c), packed[n * c: n * c + k],
            packed[n * c + k:].view(counts.shape).round().to(torch.int64))


def _valid_parts(pred_ab: torch.Tensor, batch: Mapping[str, Any], first: int):
    """Split a padded batch into one-image batches cropped to each image's valid rectangle (the bounding box of
    ``valid``; the padding transform puts the image at the top left). Yields ``(pred [1,2,h,w], batch)``."""
    index = batch.get("index")
    for i in range(pred_ab.shape[0]):
        mask = batch["valid"][i].reshape(batch["valid"].shape[-2:]).bool()
        rows, cols = mask.any(dim=1).nonzero().flatten(), mask.any(dim=0).nonzero().flatten()
        if rows.numel() == 0:
            raise ValueError(f"image {i} of the batch has no valid pixel (its 'valid' mask is all False)")
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        if int(mask[r0:r1, c0:c1].sum()) != (r1 - r0) * (c1 - c0):
            raise ValueError(f"image {i} of the batch: its 'valid' mask is not a rectangle; the evaluator scores "
                             "padded images on their valid rectangle")
        part = {key: batch[key][i:i + 1, ..., r0:r1, c0:c1] for key in ("L", "ab", "rgb") if key in batch}
        part["index"] = index[i:i + 1] if index is not None else torch.tensor([first + i])
        yield pred_ab[i:i + 1, :, r0:r1, c0:c1], part


# ------------------------------------------------------------------------------------ the one entry point
@dataclass
class EvalResult:
    """What :func:`evaluate` measured on one dataset split.

    ``figures``: dataset-level numbers (the mean of every per-image metric, the pooled histogram divergences, the
    diagnostics of :meth:`Evaluator.diagnostics`; NaN where n/a); ``notes``: metric -> why it is n/a; ``records``:
    one dict per image (``image`` = position in the evaluated set, ``index`` = dataset index, then the per-image
    metrics); ``histograms``: ``true_a``, ``true_b``, ``pred_a``, ``pred_b``, each ``[220]`` int64 pooled counts on
    one-unit bins over [-110, 110) (the very counts behind JS and KL) and, with records, ``items_true`` and
    ``items_pred``, ``[N,2,220]`` uint32: each image's own a and b counts in record order (their sum over images
    is the pooled counts); ``samples``: ``L`` ``[N,1,H,W]``,
    ``ab_true`` and ``ab_pred`` ``[N,2,H,W]`` (normalised, float16) of the first ``samples`` images;
    ``protocol``: split, size and image count as evaluated.
    """

    figures: dict[str, float]
    notes: dict[str, str]
    records: list[dict[str, Any]]
    histograms: dict[str, np.ndarray]
    samples: dict[str, np.ndarray]
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        return int(self.protocol.get("n_images", len(self.records)))


@torch.no_grad()
def evaluate(method: Any, dataset: Any, *, batch_size: int = 16, device: torch.device | str | None = None,
             max_images: int | None = None, samples: int = 0, legacy_histograms: bool = False,
             keep_records: bool = True, autocast: Callable[[], Any] | None = None,
             channels_last: bool = False, metrics: str | list[str] | tuple[str, ...] | None = None) -> EvalResult:
    """Colourise the first ``max_images`` items of ``dataset`` (all when None; always the same images, in dataset
    order, whatever ``batch_size``) with ``method.colorize`` and score them. The one evaluation loop of colorbench:
    bench cells, ``colorbench eval`` and validation during training all call it.

    ``method.colorize`` runs each batch in eval mode and restores the method's modes (the base class owns that:
    :meth:`colorbench.method.Method.colorize`). ``device``: where to run (default: the method's). ``autocast``: a
    context factory around ``colorize`` (the trainer's mixed precision); predictions are scored in float32.
    ``metrics``: as :class:`Evaluator` (weighted files are checked before the first image). Raises
    :class:`NonFiniteError` on NaN/inf predictions.
    """
    from torch.utils.data import DataLoader, Subset

    from colorbench.data.transforms import to_device

    dev = torch.device(device) if device is not None else method.device
    count = len(dataset) if max_images is None else min(len(dataset), int(max_images))
    subset = dataset if count == len(dataset) else Subset(dataset, range(count))
    evaluator = Evaluator(method_name=getattr(method, "name", "prediction"), legacy_histograms=legacy_histograms,
                          keep_records=keep_records, metrics=metrics)
    keep: dict[str, list[np.ndarray]] = {"L": [], "ab_true": [], "ab_pred": []}
    for batch in DataLoader(subset, batch_size=int(batch_size), shuffle=False):
        batch = to_device(batch, dev, channels_last)
        if autocast is not None:
            with autocast():
                pred = method.colorize(batch["L"])
        else:
            pred = method.colorize(batch["L"])
        pred = pred.float()
        evaluator.update(pred, batch)
        have = sum(len(x) for x in keep["L"])
        if have < samples:
            take = samples - have
            for name, t in (("L", batch["L"]), ("ab_true", batch["ab"]), ("ab_pred", pred)):
                keep[name].append(t[:take].float().cpu().numpy().astype(np.float16))
    result = evaluator.compute()
    figures, notes = {}, {}
    for k, v in result.items():
        if k.endswith("_note"):
            notes[k[: -len("_note")]] = str(v)
        elif k not in ("n_images", "histogram_form") and isinstance(v, (int, float)) and not isinstance(v, bool):
            figures[k] = float(v)
    records = [{"image": i, **rec} for i, rec in enumerate(evaluator.records)]
    counts = {f"{side}_{ch}": hist.counts[i].numpy().copy()
              for side, hist in (("true", evaluator.hist_true), ("pred", evaluator.hist_pred))
              for i, ch in enumerate("ab")}
    if keep_records and evaluator.item_counts:
        items = torch.cat(evaluator.item_counts).numpy()
        counts.update(items_true=items[:, 0].astype(np.uint32), items_pred=items[:, 1].astype(np.uint32))
    kept = {k: (np.concatenate(v) if v else np.zeros((0,), np.float16)) for k, v in keep.items()}
    protocol = {"split": getattr(dataset, "split", None), "size": getattr(dataset, "size", None),
                "n_images": evaluator.n_images, "histograms": result["histogram_form"]}
    return EvalResult(figures, notes, records, counts, kept, protocol)
