"""The metric declaration table: every figure the evaluator reports, with its goal, unit and meaning.

Tables (arrows, best marks, rankings), the degenerate-output flags and ``colorbench list metrics`` read
:data:`METRICS`; nothing else may hard-code a metric's direction.

A metric's **goal** is one of

* ``"higher"`` / ``"lower"``: better is larger / smaller;
* ``"truth"``: closest to the ground truth's own figure is best (``truth`` names the twin column, e.g.
  ``colorfulness_true``): a prediction twice as colourful as the photo is not better than one as colourful;
* ``"reference"``: a figure of the ground truth itself (the same for every method), never ranked;
* ``"diagnostic"``: a property of the prediction used to flag degenerate output, never ranked.

Each row also says how the evaluator computes it, so adding a metric is one row plus its function:

* a **per-image** row names its function (``fn``, ``"module:function"``) and what it is fed (``inputs``):
  ``"rgb"`` -> ``fn(pred_rgb, true_rgb)``, ``"ab"`` -> ``fn(pred_ab, true_ab)``, ``"pred_rgb"`` / ``"true_rgb"``
  -> ``fn(rgb)``, each ``[B,...]`` -> ``[B]``, with the keyword arguments of ``options``;
* a **pooled** row (one value per run) names its kind in ``pooled``: ``"histogram"`` (the pooled ab
  histograms), ``"diagnostic"`` (pixel moments), ``"features"`` (a Fréchet distance between the feature
  distributions of an ``extractor``) or ``"mean_gap"`` (``|mean(truth twin) - mean(prediction figure)|`` over
  images, the papers' ΔCF);
* ``weights``: the pretrained files (names in :data:`colorbench.pretrained.BACKBONES`) it needs. Rows without
  weights form the default set every run computes; the others only when asked for (:func:`select`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

GOALS = ("higher", "lower", "truth", "reference", "diagnostic")
INPUTS = ("rgb", "ab", "pred_rgb", "true_rgb")
POOLED = ("histogram", "diagnostic", "features", "mean_gap")
HISTOGRAM_METRICS = ("js_a", "js_b", "kl_a", "kl_b")
"""Figures of the pooled test-set histograms: one value per run, no per-image values."""


@dataclass(frozen=True)
class MetricInfo:
    """One reported figure.

    ``goal``: see the module docstring; ``truth``: the ground-truth twin of a ``"truth"`` goal. ``per_image``:
    whether the evaluator keeps one value per image in its records (so paired tests, intervals and worst cases can
    be computed); the others are dataset-level only (pooled histograms, distribution distances).
    """

    name: str
    goal: str
    unit: str
    description: str
    per_image: bool
    source: str = ""
    truth: str = ""
    fn: str = ""
    inputs: str = ""
    options: tuple[tuple[str, Any], ...] = ()
    pooled: str = ""
    weights: tuple[str, ...] = ()
    extractor: str = ""

    def __post_init__(self) -> None:
        if self.goal not in GOALS:
            raise ValueError(f"metric {self.name}: goal must be one of {GOALS}, got {self.goal!r}")
        if (self.goal == "truth") != bool(self.truth):
            raise ValueError(f"metric {self.name}: a 'truth' goal needs its twin column (truth=...), and only it")
        if self.per_image and not (self.fn and self.inputs in INPUTS):
            raise ValueError(f"metric {self.name}: a per-image metric needs fn='module:function' and inputs in "
                             f"{INPUTS}")
        if not self.per_image and self.pooled not in POOLED:
            raise ValueError(f"metric {self.name}: a pooled metric needs pooled in {POOLED}")

    @property
    def needs_weights(self) -> bool:
        """Whether this figure needs pretrained files (then it is computed only when asked for)."""
        return bool(self.weights)

    def function(self) -> Callable[..., Any]:
        """The per-image function (imported on first use)."""
        import importlib

        module, _, attr = self.fn.partition(":")
        return getattr(importlib.import_module(module), attr)

    @property
    def ranked(self) -> bool:
        """Whether tables rank this figure (``reference`` and ``diagnostic`` figures are not)."""
        return self.goal in ("higher", "lower", "truth")

    @property
    def arrow(self) -> str:
        """↑ higher is better, ↓ lower, → closest to the truth's figure; nothing for unranked figures."""
        return {"higher": "↑", "lower": "↓", "truth": "→truth"}.get(self.goal, "")


_PX = "colorbench.metrics.pixel:"
_HS = "Hasler & Suesstrunk 2003"
_ABS = "DDColor basicsr/metrics/colorfulness.py (Kang et al. 2023); CT2 segm/eval_colorfullness.py (Weng et al. 2022)"
_ROWS = (
    MetricInfo("psnr", "higher", "dB",
               "peak signal-to-noise ratio on sRGB rebuilt from the true L and the predicted ab, data range 1; "
               "identical images give inf", True, "skimage.metrics.peak_signal_noise_ratio", fn=_PX + "psnr",
               inputs="rgb"),
    MetricInfo("ssim", "higher", "",
               "structural similarity on sRGB: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, population "
               "covariance, mean over channels and the interior 5 px from each border", True,
               "Wang et al. 2004; skimage structural_similarity(gaussian_weights=True)",
               fn="colorbench.metrics.structural:ssim", inputs="rgb"),
    MetricInfo("colorfulness", "truth", "",
               "Hasler & Suesstrunk colourfulness of the prediction (signed rg = R-G, yb = (R+G)/2-B; "
               "sigma_rgyb + 0.3 mu_rgyb on 0..255 sRGB); best when closest to the ground truth's", True, _HS,
               truth="colorfulness_true", fn=_PX + "colorfulness", inputs="pred_rgb"),
    MetricInfo("colorfulness_true", "reference", "",
               "colourfulness of the ground truth (a reference figure, not a score)", True, _HS,
               fn=_PX + "colorfulness", inputs="true_rgb"),
    MetricInfo("delta_colorfulness", "lower", "",
               "|colourfulness(true) - colourfulness(prediction)| per image, averaged over images", True, _HS,
               fn=_PX + "delta_colorfulness", inputs="rgb"),
    MetricInfo("colorfulness_abs", "truth", "",
               "colourfulness as the colourisation papers compute it (DDColor, CT2, ColorFormer: absolute "
               "|R-G| and |(R+G)/2-B| before the statistics; 0..255); best when closest to the ground truth's",
               True, _ABS, truth="colorfulness_abs_true", fn=_PX + "colorfulness", inputs="pred_rgb",
               options=(("kind", "abs"),)),
    MetricInfo("colorfulness_abs_true", "reference", "",
               "colorfulness_abs of the ground truth (a reference figure, not a score)", True, _ABS,
               fn=_PX + "colorfulness", inputs="true_rgb", options=(("kind", "abs"),)),
    MetricInfo("delta_colorfulness_abs", "lower", "",
               "the papers' ΔCF: |mean colorfulness_abs(true) - mean colorfulness_abs(prediction)| over the test "
               "set (a gap of means, not a mean of per-image gaps)", False, _ABS, pooled="mean_gap",
               options=(("of", "colorfulness_abs"), ("truth", "colorfulness_abs_true"))),
    MetricInfo("mae_ab", "lower", "ab/110",
               "mean absolute error of the predicted ab in network units (ab/110), as in the KTH report's Table 1 "
               "(which scaled ab to [-1,1] its own way)",
               True, "Galvão, Santos & Sánchez-Mateos (KTH), Table 1", fn=_PX + "mae_ab", inputs="ab"),
    MetricInfo("delta_e76", "lower", "ΔE76",
               "mean CIE76 colour difference per image between (true L, predicted ab) and (true L, true ab) in Lab "
               "units, i.e. the Euclidean ab error; the prediction is not gamut-clipped first", True, "CIE 1976",
               fn=_PX + "delta_e76", inputs="ab"),
    MetricInfo("js_a", "lower", "nats",
               "squared Jensen-Shannon distance (natural log) between the pooled normalised histograms of a "
               "(220 one-unit bins on [-110,110)); at most ln 2", False, "Tarrés 2020 (UPC/BBC thesis), Table 2",
               pooled="histogram"),
    MetricInfo("js_b", "lower", "nats", "as js_a, for the b channel", False, "Tarrés 2020 (UPC/BBC thesis), Table 2",
               pooled="histogram"),
    MetricInfo("kl_a", "lower", "nats",
               "KL(true || prediction) of the pooled a histograms with epsilon 1e-10 and no renormalisation; "
               "histograms normalised to sum 1 (canonical) or mean counts per image (legacy form)", False,
               "Tarrés 2020 (UPC/BBC thesis), Table 2", pooled="histogram"),
    MetricInfo("kl_b", "lower", "nats", "as kl_a, for the b channel", False, "Tarrés 2020 (UPC/BBC thesis), Table 2",
               pooled="histogram"),
    MetricInfo("lpips_alex", "lower", "",
               "LPIPS v0.1 with AlexNet features and the v0.1 linear heads, per image pair (sRGB scaled to [-1,1])",
               True, "Zhang et al. 2018; richzhang/PerceptualSimilarity (lpips 0.1.4)",
               fn="colorbench.metrics.lpips:build", inputs="rgb", options=(("net", "alex"),),
               weights=("alexnet", "lpips_alex_heads"), extractor="AlexNet"),
    MetricInfo("lpips_vgg", "lower", "",
               "LPIPS v0.1 with VGG-16 features and the v0.1 linear heads, per image pair (CT2 reports this one)",
               True, "Zhang et al. 2018; richzhang/PerceptualSimilarity (lpips 0.1.4)",
               fn="colorbench.metrics.lpips:build", inputs="rgb", options=(("net", "vgg"),),
               weights=("vgg16", "lpips_vgg_heads"), extractor="VGG-16"),
    MetricInfo("fid", "lower", "",
               "Fréchet Inception distance, standard form: 2048-d pool features of the TF-ported FID Inception "
               "(inputs resized bilinearly to 299², scaled to [-1,1]) of the truths vs the predictions",
               False, "Heusel et al. 2017; mseitzer/pytorch-fid", pooled="features",
               fn="colorbench.metrics.fid:build", options=(("extractor", "fid"),), weights=("inception_fid",),
               extractor="FID Inception"),
    MetricInfo("fid_tv", "lower", "",
               "Fréchet distance on torchvision's ImageNet Inception-v3 pool features, preprocessed as DDColor's "
               "custom_fid.py does (the colourisation papers' FID; not comparable with fid)",
               False, "Kang et al. 2023 (DDColor) basicsr/metrics/custom_fid.py", pooled="features",
               fn="colorbench.metrics.fid:build", options=(("extractor", "tv"),), weights=("inception_v3",),
               extractor="torchvision Inception-v3"),

    MetricInfo("ab_std", "diagnostic", "Lab",
               "standard deviation of the predicted a and b over every test pixel (pooled, mean of the two "
               "channels): near 0 means one flat colour", False, "colorbench", pooled="diagnostic"),
    MetricInfo("ab_std_true", "reference", "Lab",
               "ab_std of the ground truth on the same images (the scale of the flat-output flag)", False,
               "colorbench", pooled="diagnostic"),
    MetricInfo("gamut_clipped", "diagnostic", "share",
               "share of test pixels whose predicted Lab colour lies outside the sRGB gamut (some channel clipped "
               "to [0,1] when converting back)", False, "colorbench", pooled="diagnostic"),
    MetricInfo("gamut_delta_e", "diagnostic", "ΔE76",
               "mean over every test pixel of the CIE76 distance between the predicted Lab colour and the sRGB "
               "colour shown for it (0 in gamut): how much colour the clipping takes away", False, "colorbench",
               pooled="diagnostic"),
    MetricInfo("chroma_true", "reference", "Lab",
               "mean chroma sqrt(a² + b²) of the ground truth over every test pixel (the scale of the "
               "out-of-gamut flag)", False, "colorbench", pooled="diagnostic"),
)

METRICS: dict[str, MetricInfo] = {row.name: row for row in _ROWS}
"""name -> :class:`MetricInfo`, in the order tables show them."""

PER_IMAGE_METRICS: tuple[str, ...] = tuple(m.name for m in _ROWS if m.per_image and not m.weights)
"""The per-image figures every run computes (those that need no weights)."""

DEFAULT_METRICS: tuple[str, ...] = tuple(m.name for m in _ROWS if not m.weights)
"""What ``bench`` and ``eval`` compute unless told otherwise: every figure that needs no pretrained file."""

WEIGHTED_METRICS: tuple[str, ...] = tuple(m.name for m in _ROWS if m.weights)

GROUPS: dict[str, tuple[str, ...]] = {
    "default": DEFAULT_METRICS,
    "paper": ("psnr", "ssim", "lpips_alex", "fid_tv", "colorfulness_abs", "delta_colorfulness_abs"),
    "field": ("psnr", "ssim", "lpips_alex", "lpips_vgg", "fid", "fid_tv", "colorfulness", "delta_colorfulness",
              "colorfulness_abs", "delta_colorfulness_abs"),
    "all": tuple(m.name for m in _ROWS),
}
"""Names ``--metrics`` accepts besides metric names: ``default`` (no weights), ``paper`` (the set the
colourisation papers report: DDColor, CT2, ColorFormer), ``field`` (both FIDs, both LPIPS, both colourfulness
forms), ``all``."""


def select(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """The metrics a run computes for ``spec`` (comma-separated names and :data:`GROUPS`, or a list of them; None
    for the default): always every weight-free figure (they cost little and the degenerate-output flags read
    them), plus the weighted ones named, in table order. Unknown names raise ``UserError`` listing the known."""
    from colorbench.errors import UserError

    if spec is None:
        return DEFAULT_METRICS
    items = [x.strip() for x in (spec.split(",") if isinstance(spec, str) else spec) if x and x.strip()]
    wanted: set[str] = set(DEFAULT_METRICS)
    for item in items:
        if item in GROUPS:
            wanted.update(GROUPS[item])
        elif item in METRICS:
            wanted.add(item)
        else:
            import difflib

            close = difflib.get_close_matches(item, list(METRICS) + list(GROUPS), n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise UserError(f"--metrics: unknown metric or group {item!r}{hint}; known groups: "
                            f"{', '.join(GROUPS)}; metrics: {', '.join(METRICS)}")
    return tuple(m for m in METRICS if m in wanted)


@dataclass(frozen=True)
class DegenerateRule:
    """Output that no reading of the table should trust: ``metric`` compared with ``threshold`` (``"below"`` or
    ``"above"``) times ``relative_to``, a figure of the ground truth on the same images (e.g. the truth's
    colourfulness), or times 1 when ``relative_to`` is empty. ``name``: one word for the table's flags."""

    metric: str
    op: str
    threshold: float
    relative_to: str = ""
    reason: str = ""
    name: str = ""

    def text(self) -> str:
        ref = f"{self.threshold:g}× {self.relative_to}" if self.relative_to else f"{self.threshold:g}"
        return f"{self.name or self.metric}: {self.metric} {'<' if self.op == 'below' else '>'} {ref} ({self.reason})"

    def limit(self, figures: Mapping[str, float]) -> float | None:
        """The threshold for one run's ``figures`` (None when the reference figure is missing or not finite)."""
        if not self.relative_to:
            return float(self.threshold)
        ref = figures.get(self.relative_to)
        if ref is None or not math.isfinite(float(ref)):
            return None
        return float(self.threshold) * float(ref)

    def check(self, figures: Mapping[str, float]) -> bool | None:
        """Whether one run's ``figures`` break the rule; None when the figure or its reference is missing."""
        value, limit = figures.get(self.metric), self.limit(figures)
        if value is None or limit is None or not math.isfinite(float(value)):
            return None
        return float(value) < limit if self.op == "below" else float(value) > limit


DEGENERATE: tuple[DegenerateRule, ...] = (
    DegenerateRule("ab_std", "below", 0.2, "ab_std_true", "one flat colour: ab std under a fifth of the truth's on "
                   "the same images", "flat"),
    DegenerateRule("colorfulness", "above", 2.5, "colorfulness_true", "over 2.5× the truth's colourfulness",
                   "over-saturated"),
    DegenerateRule("gamut_delta_e", "above", 0.5, "chroma_true", "showing the prediction in sRGB moves its colours "
                   "by over half the truth's mean chroma", "out of gamut"),
)
"""Thresholds declared once, each relative to the ground truth's own figure on the same images, checked per seed
(``colorbench.report.flags``); tables print them under the table. The gamut rule measures how far the clipping
moves the colours, not how many pixels it touches: a real photo is in gamut (its own figure is 0 by either measure),
while the ``mean_color`` baseline on dark and bright pixels already leaves the gamut on 23% of the ``sample`` test
pixels, by 1.7 ΔE on average (0.10× the truth's mean chroma of 17.4), which is not broken output; the truth's ab
tripled moves them by 0.6×, uniform noise by 2×. Baselines are degenerate by design and exempt."""
