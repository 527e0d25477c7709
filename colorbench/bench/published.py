"""Published reference figures (``colorbench/reference/published.csv``) and the mapping of their names to ours.

The source documents name methods, variants and metrics their own way; :data:`METHOD_MAP` and :data:`METRIC_MAP`
are the one place that says which of our cells each published row corresponds to. Published rows are shown in
every table as *published*, never mixed with measured rows, with their dataset and resolution; SSIM above 1 is
flagged as impossible, and histogram divergences are labelled ``legacy`` (un-normalised mean-count histograms).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Any

# (source, published method, published variant) -> (our method, our variant, how)
METHOD_MAP: dict[tuple[str, str, str], tuple[str, str, str]] = {
    ("c2f", "base", ""): ("c2f", "base", "the C2F paper's baseline: same generator, 1 input channel, no recursion"),
    ("c2f", "c2f", "shrink 1.2 / depth 1"): ("c2f", "s1.2_d1", "shrink_size=1.2, max_c2f_depth=1"),
    ("c2f", "c2f", "shrink 1.2 / depth 10"): ("c2f", "s1.2_d10", "shrink_size=1.2, max_c2f_depth=10"),
    ("c2f", "c2f", "shrink 2.0 / depth 1"): ("c2f", "s2.0_d1", "shrink_size=2.0, max_c2f_depth=1"),
    ("c2f", "c2f", "shrink 2.0 / depth 10"): ("c2f", "s2.0_d10", "shrink_size=2.0, max_c2f_depth=10"),
    ("kth", "unet_l1", ""): ("unet_l1", "default", "KTH 'U-Net L1'"),
    ("kth", "pix2pix", "DCGAN with L1 lambda 100"): ("pix2pix", "default", "KTH 'DCGAN + L1 (λ=100)'"),
    ("kth", "vacgan", "gamma 0.01"): ("vacgan", "default", "KTH 'VAC-GAN γ=0.01' (our default γ)"),
    ("tarres", "pix2pix", ""): ("pix2pix", "default", "Tarrés 'pix2pix'"),
    ("tarres", "gorriz", ""): ("gorriz", "default", "Tarrés 'Górriz et al.' (multi-discriminator, IBN, SN)"),
    ("tarres", "featrec", "vgg16"): ("featrec", "default", "Tarrés 'VGG16 feature loss' (our default backbone)"),
    ("tarres", "featrec", "resnet50"): ("featrec", "resnet50", "Tarrés 'ResNet50 feature loss'"),
    ("tarres", "featrec", "unet"): ("featrec", "unet", "Tarrés 'U-Net (smp) feature loss'"),
    ("tarres", "featrec", "fpn"): ("featrec", "fpn", "Tarrés 'FPN (smp) feature loss'"),
    ("tarres", "unet_l1", ""): ("unet_l1", "default", "Tarrés 'U-Net L1' (PyTorch table)"),
    ("tarres", "ground_truth", ""): ("ground truth", "", "real photos in the perceptual study (colorbench study)"),
    ("tarres", "unet_seg", "shared decoder"): ("(not implemented)", "", "Tarrés Table 5 segmentation model"),
}

# published metric -> (our column, note)
METRIC_MAP: dict[str, tuple[str, str]] = {
    "mae_test": ("mae_ab", "mean |Δab| on ab/110, test split"),
    "mae_train": ("(not measured)", "training-set MAE: colorbench reports the test split only"),
    "mae_val": ("(not measured)", "validation MAE: colorbench reports the test split only"),
    "turing_test_detected": ("(study)", "share told apart from real: `colorbench study`, not `bench`"),
    "naturalness": ("(study)", "share judged real: `colorbench study report`"),
    "psnr": ("psnr", "dB on RGB, data range 1"),
    "ssim": ("ssim", "Gaussian 11, σ 1.5; cannot exceed 1"),
    "js_a": ("js_a", "published in legacy form"),
    "js_b": ("js_b", "published in legacy form"),
    "kl_a": ("kl_a", "published in legacy form (values ≫ ln 2 need un-normalised histograms)"),
    "kl_b": ("kl_b", "published in legacy form"),
    "seconds": ("runtime ms/img", "per image; the paper does not state its hardware"),
}

HISTOGRAM_METRICS = ("js_a", "js_b", "kl_a", "kl_b")


@dataclass(frozen=True)
class PublishedRow:
    source: str
    table: str
    dataset: str
    method: str
    variant: str
    resolution: str
    metric: str
    value: float
    note: str

    @property
    def ours(self) -> tuple[str, str]:
        method, variant, _ = METHOD_MAP.get((self.source, self.method, self.variant), (self.method, self.variant, ""))
        return method, variant

    @property
    def our_metric(self) -> str:
        return METRIC_MAP.get(self.metric, (self.metric, ""))[0]

    @property
    def impossible(self) -> bool:
        return self.metric == "ssim" and self.value > 1


def load_published() -> list[PublishedRow]:
    """Every row of the shipped ``published.csv``."""
    text = resources.files("colorbench").joinpath("reference/published.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        rows.append(PublishedRow(r["source"], r["table"], r["dataset"], r["method"], r["variant"] or "",
                                 r["resolution"], r["metric"], float(r["value"]), r.get("note") or ""))
    return rows


def format_value(row: PublishedRow) -> str:
    s = f"{row.value:g}"
    if row.impossible:
        s += " ⚠ impossible (SSIM ≤ 1)"
    elif row.metric in HISTOGRAM_METRICS:
        s += " (legacy)"
    return s


def published_table(metrics: list[str], exclude_tables: tuple[str, ...] = ("Table 1c",)) -> str:
    """Markdown: one row per (source, table, method, variant, resolution) with our metric columns that it reports."""
    groups: dict[tuple[str, ...], dict[str, PublishedRow]] = {}
    tables: dict[tuple[str, ...], list[str]] = {}
    for row in load_published():
        if row.table in exclude_tables:
            continue
        key = (row.source, row.dataset, row.method, row.variant, row.resolution)
        groups.setdefault(key, {})[row.our_metric if row.our_metric in metrics else row.metric] = row
        if row.table not in tables.setdefault(key, []):
            tables[key].append(row.table)
    cols: list[str] = []
    for g in groups.values():
        cols.extend(c for c in g if c not in cols)
    ordered = [c for c in metrics if c in cols] + [c for c in cols if c not in metrics]
    lines = ["| published | source | dataset | resolution | " + " | ".join(ordered) + " |",
             "|---" * (4 + len(ordered)) + "|"]
    for key, g in groups.items():
        source, dataset, method, variant, res = key
        table = ", ".join(tables[key])
        ours_m, ours_v, _ = METHOD_MAP.get((source, method, variant), (method, variant, ""))
        name = ours_m + (f" [{ours_v}]" if ours_v and ours_v != "default" else "")
        cells = [format_value(g[c]) if c in g else "" for c in ordered]
        lines.append(f"| *{name}* (published) | {source} {table} | {dataset} | {res} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mapping_table() -> str:
    """Markdown: how the published names map to ours (methods and metrics)."""
    lines = ["| source | published method | published variant | ours | note |", "|---|---|---|---|---|"]
    for (source, method, variant), (m, v, how) in METHOD_MAP.items():
        ours = f"`{m}`" + (f" variant `{v}`" if v and v != "default" else "")
        lines.append(f"| {source} | {method} | {variant} | {ours} | {how} |")
    lines += ["", "| published metric | ours | note |", "|---|---|---|"]
    lines += [f"| {k} | `{v}` | {note} |" for k, (v, note) in METRIC_MAP.items()]
    return "\n".join(lines)


def c2f_paper_seconds() -> dict[tuple[str, str], float]:
    """C2F Table 1c: ``{(our variant, resolution): seconds}``."""
    out = {}
    for row in load_published():
        if row.source == "c2f" and row.metric == "seconds":
            out[(row.ours[1], row.resolution)] = row.value
    return out


def as_dicts() -> list[dict[str, Any]]:
    return [row.__dict__ | {"our_method": row.ours[0], "our_variant": row.ours[1], "our_metric": row.our_metric}
            for row in load_published()]
