"""The figures people read: every series of a figure has its own (colour, marker, line style), the same label the
same style in every figure of a table, legends and the suptitle never cover data or panel titles, the sample grid
shows at least four whole test photos at 128 px or more per method, and the study figure has a readable aspect."""
from __future__ import annotations

import random
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

matplotlib.use("Agg")

from colorbench.data import build_dataset, first_test_photos  # noqa: E402
from colorbench.report import figures, style  # noqa: E402
from colorbench.report import samples as sample_photos  # noqa: E402

LABELS = ["gray", "mean_color", "c2f", "c2f [base]", "c2f [s1.2_d1]", "c2f [s1.2_d10]", "c2f [s2.0_d1]",
          "c2f [s2.0_d10]", "cic", "featrec", "gorriz", "koalarization", "pix2pix", "unet_l1", "unet_l2", "vacgan"]
BASELINES = {"gray", "mean_color"}


def triple(line) -> tuple:
    return matplotlib.colors.to_hex(line.get_color()), line.get_marker(), line.get_linestyle()


# ------------------------------------------------------------------------------------------------ the style rule
def test_every_label_gets_its_own_triple_and_colour_up_to_twenty():
    many = LABELS + [f"extra{i:02d}" for i in range(44)]  # 60 labels
    st = style.styles(many, BASELINES)
    triples = [(s.color, s.marker, s.linestyle) for s in st.values()]
    assert len(set(triples)) == len(many) == 60
    first20 = [st[lab].color for lab in style.order(many, BASELINES)[:20]]
    assert len(set(first20)) == 20  # twenty distinct colours before any repeats
    assert "black" not in {s.color for s in st.values()} and style.TRUTH.color == "black"
    assert {st[lab].linestyle for lab in style.order(many, BASELINES)[:10]} == {"-"}
    assert st[style.order(many, BASELINES)[10]].linestyle == "--"  # the line style changes every ten


def test_palette_colours_stay_apart():
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab = rgb2lab(np.array([[matplotlib.colors.to_rgb(c) for c in style.PALETTE]]))[0]
    closest = min(deltaE_ciede2000(lab[i], lab[j]) for i in range(20) for j in range(i))
    assert len(style.PALETTE) == 20 and closest > 15


def test_styles_are_stable_whatever_order_and_call():
    st = style.styles(LABELS, BASELINES)
    shuffled = LABELS[:]
    random.Random(0).shuffle(shuffled)
    assert style.styles(shuffled, BASELINES) == st == style.styles(LABELS + LABELS, BASELINES)
    assert style.order(LABELS, BASELINES)[:2] == ["gray", "mean_color"]  # baselines first
    assert st["gray"] == style.style_at(0) and st["c2f"] == style.style_at(2)
    # a figure handed the table-wide mapping uses it even for a subset of the labels
    assert style.pick(st, ["vacgan", "cic"]) == st


# ------------------------------------------------------------------------------------------------ figure checks
@pytest.fixture
def drawn(monkeypatch):
    """The bench figures' matplotlib Figures, kept open instead of closed after writing."""
    kept = []

    def keep(path, fig):
        kept.append(fig)
        return Path(path)

    monkeypatch.setattr(figures, "_save", keep)
    yield kept
    style.pyplot().close("all")


def _boxes(fig):
    """Draw ``fig`` (on an Agg canvas: a closed figure has lost its own) and return the renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def assert_legends_outside(fig):
    renderer = _boxes(fig)
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends, "no legend"
    for leg in legends:
        lb = leg.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible() and ax.axison:
                assert not lb.overlaps(ax.get_window_extent(renderer)), (leg, ax.get_title())


def assert_titles_apart(fig):
    renderer = _boxes(fig)
    if fig._suptitle is None:
        return
    top = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        if ax.get_title():
            assert not top.overlaps(ax.title.get_window_extent(renderer)), ax.get_title()


def test_histograms_distinct_series_legend_outside_title_clear(drawn):
    rng = np.random.default_rng(0)
    truth = {f"true_{c}": rng.integers(0, 50, 220) for c in "ab"}
    hists = {lab: {**truth, **{f"pred_{c}": rng.integers(0, 50, 220) for c in "ab"}} for lab in LABELS}
    table = style.styles(LABELS + ["only in runtime"], BASELINES)
    figures.histograms(Path("h.png"), hists, styles=table)
    fig = drawn[0]
    for ax in fig.axes:
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        assert set(lines) == {"ground truth", *LABELS}
        triples = [triple(ln) for ln in lines.values()]
        assert len(set(triples)) == len(triples)
        for lab in LABELS:  # the table's mapping, not one of this figure alone
            s = table[lab]
            assert triple(lines[lab]) == (matplotlib.colors.to_hex(s.color), s.marker, s.linestyle)
    assert_legends_outside(fig)
    assert_titles_apart(fig)


def test_runtime_plot_shares_the_tables_styles_and_keeps_its_legend_off_the_data(drawn):
    table = {lab: {"256x256": {"ms": 10.0 + i, "status": "ok"}, "750x500": {"ms": 40.0 + i, "status": "ok"}}
             for i, lab in enumerate(LABELS)}
    st = style.styles(LABELS, BASELINES)
    figures.runtime_plot(Path("r.png"), table, st)
    fig = drawn[0]
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert {lab: triple(ln) for lab, ln in lines.items()} == {
        lab: (matplotlib.colors.to_hex(s.color), s.marker, s.linestyle) for lab, s in st.items()}
    assert_legends_outside(fig)


def test_loss_curves_one_style_per_loss_and_suptitle_above_panel_titles(drawn, tmp_path):
    logs = {}
    for i, lab in enumerate(LABELS[:9]):
        path = tmp_path / f"{i}.csv"
        keys = ["loss", "l1"] + (["loss_d", "loss_g"] if i % 2 else ["mse"])
        rows = ["step," + ",".join(keys)] + [f"{s}," + ",".join(str(0.1 + s + k) for k in range(len(keys)))
                                             for s in range(1, 30)]
        path.write_text("\n".join(rows) + "\n")
        logs[lab] = (path, "l1")
    figures.bench_loss_curves(tmp_path / "loss.png", logs)
    fig = drawn[0]
    seen: dict[str, tuple] = {}
    for ax in fig.axes:
        for ln in ax.get_lines():
            assert seen.setdefault(ln.get_label(), triple(ln)) == triple(ln)  # "l1" looks the same in every panel
    assert len(set(seen.values())) == len(seen) == 5
    assert_legends_outside(fig)
    assert_titles_apart(fig)


def test_notebook_runtime_figure_legend_outside():
    import pandas as pd

    frame = pd.DataFrame({"256x256": [10.0 + i for i in range(len(LABELS))],
                          "750x500": [40.0 + i for i in range(len(LABELS))]}, index=LABELS)
    fig = figures.runtime_figure(frame)
    assert len({triple(ln) for ln in fig.axes[0].get_lines()}) == len(LABELS)
    assert_legends_outside(fig)


def test_legend_outside_below_a_figure():
    with style.rc():
        fig, axes = style.figure(1, 2, figsize=(6, 3))
        for ax in axes[0]:
            for i in range(12):
                ax.plot(range(10), np.arange(10) * i, label=f"series {i}")
        style.legend_outside(fig, where="below")
        fig.suptitle("a title")
        for ax in axes[0]:
            ax.set_title("a panel")
    assert_legends_outside(fig)
    assert_titles_apart(fig)
    renderer = _boxes(fig)
    assert fig.legends[0].get_window_extent(renderer).y1 < min(ax.get_window_extent(renderer).y0 for ax in fig.axes)
    style.pyplot().close(fig)


# ------------------------------------------------------------------------------------------------ sample photos
def test_first_test_photos_are_whole_and_at_least_the_side(tmp_path):
    photos = first_test_photos(build_dataset("sample", "test", size=64), 4, 128)
    assert [name for name, _ in photos] == ["astronaut", "chelsea", "coffee", "rocket"]
    for _, rgb in photos:  # the 5:1 test strips keep a centred 2:1 window
        assert rgb.dtype == np.uint8 and rgb.shape == (128, 256, 3)
    synthetic = first_test_photos(build_dataset("synthetic", "test", size=16), 5, 128)
    assert [rgb.shape for _, rgb in synthetic] == [(128, 128, 3)] * 5
    # a folder dataset: each photo whole (3:2 and 2:3), named after its file, 160 px on its shorter side
    for name, (w, h) in {"wide": (90, 60), "tall": (60, 90)}.items():
        Image.fromarray(_solid(h, w, (150, 90, 30))).save(tmp_path / f"{name}.png")
    ds = build_dataset("folder", "test", size=32, data_dir=tmp_path, ratios=(0, 0, 1))
    got = dict(first_test_photos(ds, 4, 160))
    assert {k: v.shape for k, v in got.items()} == {"wide": (160, 240, 3), "tall": (240, 160, 3)}


def test_first_test_photos_count_photos_not_crops():
    from colorbench.data import protocol_for

    p = protocol_for("openphotos")  # the real-photo set, here with four crops per test photo
    ds = build_dataset("openphotos", p.split, size=p.size, crops=4)
    photos = first_test_photos(ds, 4, 128)
    assert len(ds) > len(ds.paths) and len({name for name, _ in photos}) == 4
    assert [name for name, _ in photos] == [Path(q).stem for q in ds.paths[:4]]
    for _, rgb in photos:
        assert min(rgb.shape[:2]) == 128 and max(rgb.shape[:2]) <= 256


def _solid(h: int, w: int, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (h, w, 3)).copy()


def test_sample_grid_one_row_per_method_photos_at_native_pixels(tmp_path):
    labels = LABELS[:5]
    shapes = [(128, 256), (128, 192), (160, 128), (128, 128), (128, 200)]  # five photos, one portrait
    arrays = {}
    for k, lab in enumerate(labels):
        a = {"names": np.array([f"photo{j}" for j in range(5)])}
        for j, (h, w) in enumerate(shapes):
            a[f"true_{j}"] = _solid(h, w, (200, 40 * j, 10))
            a[f"pred_{j}"] = _solid(h, w, (10 + 20 * k, 250 - 40 * j, 120 + 20 * k))
        arrays[lab] = a
    del arrays["c2f"]["pred_1"]  # a prediction that was not finite: an empty cell
    path = figures.sample_grid(tmp_path / "samples.png", arrays, n=4)
    img = np.asarray(Image.open(path).convert("RGB"))
    for k, lab in enumerate(labels):
        for j, (h, w) in enumerate(shapes[:4]):
            ys, xs = np.nonzero(np.all(img == (10 + 20 * k, 250 - 40 * j, 120 + 20 * k), axis=-1))
            if lab == "c2f" and j == 1:
                assert len(ys) == 0
                continue
            assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == (h, w), (lab, j)  # one pixel per pixel
    assert not np.all(img == (10, 250 - 40 * 4, 120), axis=-1).any()  # n=4: the fifth photo is left out
    rows = 2 + len(labels)  # grey input, truth, one per method
    assert img.shape[0] >= rows * 160 and img.shape[1] >= 256 + 192 + 128 + 128


def test_old_sample_records_still_draw(tmp_path):
    rng = np.random.default_rng(0)
    old = {"L": rng.uniform(-1, 1, (4, 1, 64, 64)).astype(np.float16),
           "ab_true": rng.uniform(-0.2, 0.2, (4, 2, 64, 64)).astype(np.float16),
           "ab_pred": np.zeros((4, 2, 64, 64), np.float16)}
    s = sample_photos.read(old)
    assert s.names == ["#0", "#1", "#2", "#3"] and s.truth[0].shape == (64, 64, 3)
    path = figures.sample_grid(tmp_path / "samples.png", {"gray": old})
    w, h = Image.open(path).size
    assert h >= 3 * 128 and w >= 4 * 128  # 64 px crops drawn at twice their size


def test_a_bench_cell_colourises_four_whole_test_photos(tmp_path):
    from colorbench.bench import run_bench

    run_bench("smoke", methods=["gray"], baselines=False, device="cpu", sets=["eval.samples=4"],
              results=tmp_path / "results", cache=tmp_path / "cache", progress=False)
    (npz,) = (tmp_path / "cache").glob("*/samples.npz")
    with np.load(npz) as z:
        s = sample_photos.read({k: z[k] for k in z.files})
        assert all(z[k].dtype == np.uint8 for k in z.files if k != "names")
    assert len(s.names) == 4
    for truth, pred in zip(s.truth, s.pred):
        assert min(truth.shape[:2]) >= 128 and pred.shape == truth.shape
        assert np.abs(pred.astype(int) - sample_photos.grey(truth).astype(int)).max() <= 1  # gray: L kept, ab 0
    assert npz.stat().st_size < 400_000
    w, h = Image.open(tmp_path / "results" / "smoke" / "synthetic" / "samples.jpg").size
    assert w >= 4 * 128 and h >= 3 * 128


# ------------------------------------------------------------------------------------------------ study figure
def test_study_figure_is_readable():
    from colorbench.study.report import DPI, figure

    names = ["ground_truth", *LABELS]
    rows = [{"condition": c, "naturalness": 0.5, "naturalness_low": 0.4, "naturalness_high": 0.6,
             "fool_rate": 0.3, "fool_rate_low": 0.2, "fool_rate_high": 0.4, "pair_answers": 10} for c in names]
    fig = figure(rows, [{"method": "pix2pix", "metric": "naturalness", "value": "0.5"}], simulated=True)
    renderer = _boxes(fig)
    box = fig.get_tightbbox(renderer)
    w, h = box.width * DPI, box.height * DPI
    assert w / h <= 3 and w <= 1300
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]
    assert texts and min(t.get_fontsize() for t in texts) >= 9
    assert_legends_outside(fig)
    assert_titles_apart(fig)
    style.pyplot().close(fig)
