"""Bad input, tried as a careful user would: every case is one line of ``CASES`` (a setup, the command line, the
exit status and words the one-line message must hold). Add a case by adding a line; ``{tmp}`` is the test's
folder, ``{run}`` a trained tiny run, ``{nan_run}`` a run whose weights are NaN, ``{photo}`` a 20x24 colour PNG,
``{bomb}`` a PNG whose header claims 30000x30000 and ``{toml}`` the file a case's setup writes.

The cases that need more than a command line (a study server body, a dataset folder, a numeric reference) follow
the table as ordinary tests.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorbench import checkpoint as ckpt
from colorbench.cli import main
from colorbench.errors import UserError
from colorbench.method import Method
from trainer_support import Tiny, registered

pytestmark = pytest.mark.timeout(300)
FAST = ["--dataset", "synthetic", "--size", "16", "--batch-size", "4", "--no-progress", "--val-every", "0"]
TRAIN = ["train", "test_tiny", *FAST, "--out", "{tmp}/r"]
BENCH = ["bench", "--profile", "smoke", "--results", "{tmp}/res", "--cache", "{tmp}/cache", "--no-progress"]


def fake_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` (the pixel data is a few bytes: never decodable)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))
    return path


def toml(text: str):
    def setup(tmp: Path) -> None:
        (tmp / "c.toml").write_text(text)
    return setup


def config_json(edit):
    """Setup: a copy of the trained run whose newest config.json is changed by ``edit(record) -> record``."""
    def setup(tmp: Path, run: Path) -> None:
        shutil.copytree(run, tmp / "edited")
        path = ckpt.resolve(tmp / "edited") / ckpt.CONFIG
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return setup


def with_config(**values):
    def edit(record):
        record["config"].update(values)
        return record
    return edit


# (name, setup or None, argv, exit status, words of the one-line message)
CASES = [
    ("set-lr-text", None, [*TRAIN, "--set", "lr=abc"], 2, "--set lr=abc: expected a number"),
    ("set-width-text", None, [*TRAIN, "--set", "width=abc"], 2, "--set width=abc: expected a whole number"),
    ("set-width-negative", None, [*TRAIN, "--set", "width=-3"], 2, "--set width=-3: must not be negative"),
    ("set-lr-nan", None, [*TRAIN, "--set", "lr=nan"], 2, "--set lr=nan: must be a finite number"),
    ("set-lr-inf", None, [*TRAIN, "--set", "lr=inf"], 2, "--set lr=inf: must be a finite number"),
    ("set-lr-negative", None, [*TRAIN, "--set", "lr=-1e6"], 2, "--set lr=-1e6: must not be negative"),
    ("set-width-float", None, [*TRAIN, "--set", "width=3.5"], 2, "--set width=3.5: expected a whole number"),
    ("set-kernel-length", None, [*TRAIN, "--set", "kernel=1,2,3"], 2, "expected 2 values, got 3"),
    ("steps-negative", None, [*TRAIN, "--steps", "-5"], 2, "--steps -5: must be at least 1"),
    ("steps-zero", None, [*TRAIN, "--steps", "0"], 2, "--steps 0: must be at least 1"),
    ("epochs-zero", None, [*TRAIN, "--epochs", "0"], 2, "--epochs 0: must be at least 1"),
    ("size-below-ssim", None, [*TRAIN, "--size", "7", "--steps", "1"], 2, "--size 7: must be at least 11"),
    ("batch-zero", None, [*TRAIN, "--batch-size", "0", "--steps", "1"], 2, "--batch-size 0: must be at least 1"),
    ("seed-negative", None, [*TRAIN, "--seed", "-1", "--steps", "1"], 2, "--seed -1: must be at least 0"),
    ("patience-zero", None, [*TRAIN, "--nonfinite-patience", "0", "--steps", "1"], 2, "must be at least 1"),
    ("toml-steps-negative", toml("[train]\nsteps = -5\n"), [*TRAIN, "--config", "{tmp}/c.toml"], 2,
     "[train] steps -5: must be at least 1"),
    ("toml-steps-text", toml('[train]\nsteps = "many"\n'), [*TRAIN, "--config", "{tmp}/c.toml"], 2,
     "[train] steps 'many': expected a whole number"),
    ("toml-size-small", toml("[train]\nsize = 7\nsteps = 1\n"), [*TRAIN, "--config", "{tmp}/c.toml"], 2,
     "[train] size 7: must be at least 11"),
    ("toml-width-text", toml('width = "abc"\n[train]\nsteps = 1\n'), [*TRAIN, "--config", "{tmp}/c.toml"], 2,
     "c.toml: width=abc: expected a whole number"),
    ("toml-precision", toml('[train]\nprecision = "fp8"\nsteps = 1\n'), [*TRAIN, "--config", "{tmp}/c.toml"], 2,
     "precision 'fp8': use one of auto, fp32, bf16, fp16"),
    ("bench-steps-negative", None, [*BENCH, "--set", "train.steps=-3"], 2, "train.steps -3: must be at least 1"),
    ("bench-unknown-head", None, [*BENCH, "--set", "nosuch.key=1"], 2, "'nosuch' is neither a profile section"),
    ("bench-seeds-zero", None, [*BENCH, "--seeds", "0"], 2, "--seeds 0: must be at least 1"),
    ("bench-size-small", None, [*BENCH, "--set", "data.size=7"], 2, "data.size 7: must be at least 11"),
    ("bench-method-lr-nan", None, [*BENCH, "--set", "pix2pix.lr=nan"], 2, "--set pix2pix.lr=nan: must be a finite"),
    ("bench-method-key", None, [*BENCH, "--set", "pix2pix.lrr=1"], 2, "Did you mean 'lr'"),
    ("bench-eval-batch", None, [*BENCH, "--set", "eval.batch_size=0"], 2, "eval.batch_size 0: must be at least 1"),
    ("bench-runtime-size", None, [*BENCH, "--set", 'runtime.sizes=["big"]'], 2, "'big' is not WIDTHxHEIGHT"),
    ("colorize-bomb", None, ["colorize", "{run}", "{bomb}", "--out", "{tmp}/o"], 2,
     "30000x30000 px = 900,000,000 pixels, over the limit of 50,000,000); raise the limit with --max-pixels"),
    ("colorize-max-pixels", None, ["colorize", "{run}", "{photo}", "--out", "{tmp}/o", "--max-pixels", "100"], 2,
     "20x24 px = 480 pixels, over the limit of 100)"),
    ("colorize-max-pixels-zero", None, ["colorize", "{run}", "{photo}", "--out", "{tmp}/o", "--max-pixels", "0"],
     2, "--max-pixels 0: must be at least 1"),
    ("colorize-over-input", None, ["colorize", "{run}", "{photo}", "--out", "{tmp}"], 2,
     "would write over the input"),
    ("colorize-nan-weights", None, ["colorize", "{nan_run}", "{photo}", "--out", "{tmp}/o"], 2,
     "holds non-finite weights"),
    ("eval-inf-weight", None, ["eval", "{inf_run}", "--max-images", "2", "--csv", "{tmp}/e.csv"], 2,
     "holds non-finite weights (NaN or infinite in 1 tensor, e.g. net.0.weight)"),
    ("bench-jobs-zero", None, [*BENCH, "--jobs", "0"], 2, "--jobs 0: must be at least 1"),
    ("bench-profile-method-typo", toml('methods = ["unet_ll"]\ndatasets = ["synthetic"]\n'),
     ["bench", "--profile", "{tmp}/c.toml", "--results", "{tmp}/res", "--cache", "{tmp}/cache", "--no-progress"], 2,
     "profile c: unknown method 'unet_ll'. Did you mean 'unet_l2', 'unet_l1'?"),
    ("last-outside-run", lambda tmp, run: (shutil.copytree(run, tmp / "u2"), (tmp / "u2/checkpoints/LAST").write_text(
        "../../u1/checkpoints/step_0000001\n")), ["eval", "{tmp}/u2", "--csv", "{tmp}/e.csv"], 2,
     "not a checkpoint folder inside"),
    ("colorize-unrelated-file", lambda tmp: (os.makedirs(tmp / "d"), Image.open(tmp / "photo.png").save(
        tmp / "d/photo.jpg"), (tmp / "d/photo.png").write_text("keep me")),
     ["colorize", "{run}", "{tmp}/d/photo.jpg", "--out", "{tmp}/d"], 2,
     "photo.png already exists and colourising would replace it with photo.png; nothing was written: add --overwrite"),
    ("colorize-case-clash", lambda tmp: (os.makedirs(tmp / "d"), shutil.copy(tmp / "photo.png", tmp / "d/a.PNG"),
                                         (tmp / "d/A.png").write_text("keep me")),
     ["colorize", "{run}", "{tmp}/d/a.PNG", "--out", "{tmp}/d"], 2,
     "A.png already exists and colourising would replace it with a.png"),
    ("colorize-case-of-input", lambda tmp: (os.makedirs(tmp / "d"), shutil.copy(tmp / "photo.png", tmp / "d/a.PNG")),
     ["colorize", "{run}", "{tmp}/d/a.PNG", "--out", "{tmp}/d", "--overwrite"], 2,
     "differs from the input a.PNG only in case"),
    ("colorize-out-is-file", lambda tmp: (tmp / "o").write_text("x"),
     ["colorize", "{run}", "{photo}", "--out", "{tmp}/o"], 2, "--out {tmp}/o: is a file, not a folder"),
    ("train-out-is-file", lambda tmp: (tmp / "r").write_text("x"), [*TRAIN, "--steps", "1"], 2,
     "--out {tmp}/r: is a file, not a folder"),
    ("train-out-through-file", lambda tmp: (tmp / "f").write_text("x"),
     ["train", "test_tiny", *FAST, "--steps", "1", "--out", "{tmp}/f/r"], 2,
     "--out {tmp}/f/r: Not a directory (a part of the path is a file, not a folder"),
    ("eval-csv-is-folder", None, ["eval", "{run}", "--csv", "{tmp}"], 2, "--csv {tmp}: is a folder; give a file"),
    ("eval-csv-device", None, ["eval", "{run}", "--csv", "/dev/full"], 2, "--csv /dev/full: not a regular file"),
    ("bench-results-is-file", lambda tmp: (tmp / "res").write_text("x"), BENCH, 2,
     "--results {tmp}/res: is a file, not a folder"),
    ("bench-cache-is-file", lambda tmp: (tmp / "cache").write_text("x"), BENCH, 2,
     "--cache {tmp}/cache: is a file, not a folder"),
    ("eval-size-huge", None, ["eval", "{run}", "--size", "100000"], 2, "--size 100000: must be at most 16384"),
    ("train-size-huge", None, [*TRAIN, "--size", "100000"], 2, "--size 100000: must be at most 16384"),
    ("train-seed-23-digits", None, [*TRAIN, "--seed", "12345678901234567890123"], 2,
     "--seed 12345678901234567890123: must be at most 9223372036854775807"),
    ("config-is-folder", None, [*TRAIN, "--config", "{tmp}"], 2, "--config {tmp}: is a folder; give a TOML file"),
    ("config-not-utf8", lambda tmp: (tmp / "c.toml").write_bytes(b"width = 4 # \xff\xfe\n"),
     [*TRAIN, "--config", "{tmp}/c.toml"], 2, "c.toml: not UTF-8 text (byte 12)"),
    ("set-width-zero", None, ["train", "unet_l1", *FAST, "--steps", "1", "--set", "width=0", "--out", "{tmp}/r"], 2,
     "method 'unet_l1' [default] cannot be built with config overrides {{'width': '0', "),
    ("eval-a-pt-file", lambda tmp: (tmp / "evil.pt").write_bytes(b"\x80\x04K\x01."),
     ["eval", "{tmp}/evil.pt"], 2, "checkpoint {tmp}/evil.pt is a file, not a colorbench checkpoint"),
    ("colorize-working-size", None, ["colorize", "{run}", "{photo}", "--out", "{tmp}/o", "--working-size", "-1"],
     2, "--working-size -1: must be at least 0"),
    ("colorize-not-image", lambda tmp: (tmp / "x.png").write_text("not a png"),
     ["colorize", "{run}", "{tmp}/x.png", "--out", "{tmp}/o"], 2, "not an image Pillow can read"),
    ("resume-nan-run", None, ["train", "test_tiny", *FAST, "--steps", "3", "--out", "{nan_run}"], 2,
     "holds non-finite weights (NaN or infinite in"),
    ("config-json-list", config_json(lambda r: [r]), ["colorize", "{tmp}/edited", "{photo}", "--out", "{tmp}/o"],
     2, "expected a JSON object (method, config, ...), found a JSON list"),
    ("config-json-width-text", config_json(with_config(width="abc")),
     ["colorize", "{tmp}/edited", "{photo}", "--out", "{tmp}/o"], 2, "config width=abc: expected a whole number"),
    ("config-json-lr-negative", config_json(with_config(lr=-1.0)),
     ["colorize", "{tmp}/edited", "{photo}", "--out", "{tmp}/o"], 2, "config lr=-1.0: must not be negative"),
    ("config-json-unknown-key", config_json(with_config(depth=3)),
     ["colorize", "{tmp}/edited", "{photo}", "--out", "{tmp}/o"], 2, "config keys ['depth'] are not fields"),
    ("config-json-method-number", config_json(lambda r: {**r, "method": 3}),
     ["colorize", "{tmp}/edited", "{photo}", "--out", "{tmp}/o"], 2, "'method' must be a method name"),
    ("study-max-participants", None, ["study", "serve", "{tmp}", "--max-participants", "0"], 2,
     "--max-participants 0: must be at least 1"),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny run trained for one step, a copy whose weights are NaN, and the images the cases use."""
    root = tmp_path_factory.mktemp("bad_input")
    with registered():
        assert main(["train", "test_tiny", *FAST, "--steps", "1", "--out", str(root / "run")]) == 0
    last = ckpt.resolve(root / "run")
    nan_run = root / "nan_run"
    shutil.copytree(root / "run", nan_run)
    weights = ckpt.read_safetensors(last / ckpt.WEIGHTS)
    ckpt.write_safetensors({k: v.float().fill_(float("nan")) if v.is_floating_point() else v
                            for k, v in weights.items()}, ckpt.resolve(nan_run) / ckpt.WEIGHTS)
    inf_run = root / "inf_run"  # one +inf weight among finite ones
    shutil.copytree(root / "run", inf_run)
    weights = ckpt.read_safetensors(last / ckpt.WEIGHTS)
    weights["net.0.weight"].view(-1)[0] = float("inf")
    ckpt.write_safetensors(weights, ckpt.resolve(inf_run) / ckpt.WEIGHTS)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((24, 20, 3)) * 255).astype(np.uint8)).save(root / "photo.png")
    fake_png(root / "bomb.png", 30000, 30000)
    return root


@pytest.mark.parametrize("name, setup, argv, status, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line(runs, tmp_path, capsys, name, setup, argv, status, words):
    photo = tmp_path / "photo.png"
    shutil.copy(runs / "photo.png", photo)
    if setup is not None:
        setup(*((tmp_path, runs / "run") if setup.__code__.co_argcount == 2 else (tmp_path,)))
    values = {"tmp": tmp_path, "run": runs / "run", "nan_run": runs / "nan_run", "inf_run": runs / "inf_run",
              "photo": photo, "bomb": runs / "bomb.png"}
    with registered():
        rc = main([a.format(**values) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if ": error: " in line]
    assert rc == status, err
    assert len(errors) == 1 and words.format(tmp=tmp_path) in errors[0], err
    assert not any("Traceback" in line for line in err)
    if name in ("colorize-unrelated-file", "colorize-case-clash"):
        assert [p.read_text() for p in (tmp_path / "d").glob("*") if p.suffix == ".png"] == ["keep me"]
    if name == "colorize-case-of-input":
        assert [p.name for p in (tmp_path / "d").iterdir()] == ["a.PNG"]
    if name == "colorize-over-input":
        np.testing.assert_array_equal(np.asarray(Image.open(photo)), np.asarray(Image.open(runs / "photo.png")))


# ------------------------------------------------------------------------------------------ training stops on NaN
@dataclasses.dataclass
class GoesBadConfig:
    width: int = 4
    lr: float = 1e-2
    bad_from: int = 3  # the first step (1-based) whose loss is NaN
    kernel: tuple[int, int] = (3, 3)
    dropout: float = 0.0
    decay_every: int = 100


class GoesBad(Tiny):
    """Tiny, whose loss (and so its weights) turns NaN from step ``bad_from`` on."""

    Config = GoesBadConfig

    def train_step(self, batch, step):
        loss = (self.net(batch["L"]) - batch["ab"]).abs().mean()
        if step + 1 >= self.config.bad_from:
            loss = loss * float("nan")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"l1": loss.item()}


def test_nan_loss_stops_training_and_last_stays_finite(tmp_path, capsys):
    out = tmp_path / "r"
    with registered(GoesBad, "test_goes_bad"):
        rc = main(["train", "test_goes_bad", *FAST, "--steps", "20", "--ckpt-every", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "training stopped at step 3: loss l1 = nan is not finite" in err
    assert (out / "checkpoints" / "LAST").read_text().strip() == "step_0000002"
    assert sorted(p.name for p in (out / "checkpoints").glob("step_*")) == ["step_0000001", "step_0000002"]
    loaded = ckpt.load_checkpoint(out)
    assert all(torch.isfinite(t).all() for t in loaded["weights"].values())
    assert loaded["state"]["step"] == 2 and loaded["state"]["optimizers"]["opt"]["state"]  # optimiser state kept


def test_patience_tolerates_a_bad_step_then_stops_at_the_streak(tmp_path, capsys):
    from colorbench.train.finite import FiniteWatch

    watch = FiniteWatch(2)
    assert [watch.update(s, {"l": v}) for s, v in enumerate([1.0, float("nan"), 0.5, float("inf"), float("nan")],
                                                                  1)] == [False, False, False, False, True]
    assert watch.first_bad == (4, "l", float("inf"))


# ------------------------------------------------------------------------------------------------ image reader
def test_folder_dataset_skips_an_over_limit_image_with_a_warning(tmp_path):
    from colorbench.data.folder import DataWarning, FolderDataset

    rng = np.random.default_rng(1)
    for i in range(4):
        Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)).save(tmp_path / f"ok{i}.png")
    fake_png(tmp_path / "bomb.png", 30000, 30000)
    for check in ("decode", "header"):
        with pytest.warns(DataWarning) as caught:
            ds = FolderDataset("train", size=16, data_dir=tmp_path, ratios=(1.0, 0.0, 0.0), check=check)
        assert any("bomb.png: too large (30000x30000" in str(w.message) for w in caught)
        assert len(ds) == 4 and ds.skipped[0][0].endswith("bomb.png")


def test_a_folder_of_photos_too_small_for_the_crop_names_that_fix(tmp_path):
    from colorbench.data.folder import DataWarning, FolderDataset

    rng = np.random.default_rng(2)
    for i in range(3):
        Image.fromarray((rng.random((40, 50, 3)) * 255).astype(np.uint8)).save(tmp_path / f"p{i}.png")
    with pytest.warns(DataWarning), pytest.raises(UserError, match=r"3 skipped\); every one was skipped, e\.g\. "
                                                   r"p\d\.png: smaller than the crop \(50x40 px, needs at least "
                                                   r"64x64\); resize it or use the dataset's resize option"):
        FolderDataset("train", size=64, data_dir=tmp_path, ratios=(1.0, 0.0, 0.0))


def test_colorize_and_the_data_layer_read_rgba_alike(tmp_path):
    from colorbench.inference import read_photo as colorize_read
    from colorbench.data.images import read_rgb as data_read

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent: a viewer shows white
    rgba[0, 0] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    from_data = data_read(tmp_path / "a.png", allow_grey=True)
    from_colorize = colorize_read(tmp_path / "a.png")
    assert from_data[1, 1].tolist() == [255, 255, 255] and from_data[0, 0].tolist() == [255, 0, 0]
    np.testing.assert_array_equal(from_colorize, from_data)


def test_a_run_folder_whose_name_is_not_utf8_loads(runs, tmp_path, capsys):
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/run-\xff\xfe"))
    shutil.copytree(runs / "run", odd)
    with registered():
        assert main(["colorize", str(odd), str(runs / "photo.png"), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "photo.png").is_file()


def test_weights_of_another_method_are_named_as_such(runs):
    @dataclasses.dataclass
    class OtherConfig:
        width: int = 8

    class Other(Tiny):
        Config = OtherConfig

        def __init__(self, config=None, num_classes=None):
            Method.__init__(self, config, num_classes)
            self.body = torch.nn.Conv2d(1, 2, 3)

    with registered(Other, "test_other"):
        with pytest.raises(UserError, match="holds weights of method 'test_tiny', not 'test_other'"):
            ckpt.load_checkpoint(runs / "run", Other())
    with registered():
        with pytest.raises(UserError, match=r"2 tensors missing from the file \(net.6.bias, net.6.weight\)"):
            tiny = Tiny()
            tiny.net.append(torch.nn.Conv2d(2, 2, 1))
            ckpt.load_checkpoint(runs / "run", tiny)


def test_corrupt_pretrained_safetensors_is_one_line(tmp_path):
    from colorbench.pretrained import read_state_dict

    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json header")
    with pytest.raises(UserError, match="model.safetensors .* the file is corrupt or truncated"):
        read_state_dict(bad)


# ------------------------------------------------------------------------------------------------- checkpoints
def test_saves_clean_dead_temporaries_and_run_git_once(runs, tmp_path, monkeypatch):
    import subprocess

    folder = tmp_path / "checkpoints"
    (folder / ".step_0000001.tmp999999999").mkdir(parents=True)  # a killed save (no such pid)
    shutil.copytree(ckpt.resolve(runs / "run"), folder / ".step_0000002.old999999999")  # killed mid-replace
    calls = []
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append((a, k)) or real(*a, **k))
    ckpt.git_commit.cache_clear()
    with registered():
        method = Tiny()
        for step in (3, 4):
            ckpt.save_checkpoint(folder / f"step_{step:07d}", method, step)
    assert sorted(p.name for p in folder.iterdir()) == ["step_0000002", "step_0000003", "step_0000004"]
    assert len(calls) <= 1 and all(k.get("env", {}).get("GIT_OPTIONAL_LOCKS") == "0" for _, k in calls)
    assert not any("rev-parse" in a[0] for a, _ in calls)


# --------------------------------------------------------------------------------------------------- numerics
def test_psnr_accumulates_in_float64():
    from skimage.metrics import peak_signal_noise_ratio

    from colorbench.metrics import psnr

    g = torch.Generator().manual_seed(0)
    true = torch.rand(1, 3, 1000, 1500, generator=g)
    pred = (true + 0.03 * torch.randn(true.shape, generator=g)).clamp(0, 1)
    ref = peak_signal_noise_ratio(true[0].double().numpy(), pred[0].double().numpy(), data_range=1)
    assert float(psnr(pred, true)) == pytest.approx(ref, abs=1e-5)  # float32 sums were 8e-4 dB off here


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_lab_upcasts_half_precision_and_works_under_autocast(dtype):
    from colorbench.color import lab_to_rgb, rgb_to_lab

    rgb = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)).to(dtype)
    exact = rgb_to_lab(rgb.double())
    lab = rgb_to_lab(rgb)
    assert lab.dtype == torch.float32 and (lab.double() - exact).abs().max() < 1e-3  # in bf16 it was up to 4.4 ΔE
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lab = rgb_to_lab(rgb.float())
        back = lab_to_rgb(lab)
    assert lab.dtype == back.dtype == torch.float32
    assert (lab.double() - exact).abs().max() < 1e-3 and (back - rgb.float()).abs().max() < 1e-4


def test_every_shipped_profile_passes_the_checks():
    from colorbench.bench.profiles import available_profiles, check_profile, load_profile

    for name in available_profiles():
        check_profile(load_profile(name))  # e.g. paper's per_method.gray.steps = 0 (an untrained baseline) is fine


# ------------------------------------------------------------------------ I/O failures: one line, nothing half
def test_a_full_disk_while_writing_is_one_line_and_leaves_no_half_file(runs, tmp_path, capsys, monkeypatch):
    import errno

    from colorbench import _atomic

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_atomic.os, "fsync", full)
    with registered():
        rc = main(["colorize", str(runs / "run"), str(runs / "photo.png"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "No space left on device (the disk is full" in err[0], err
    assert list((tmp_path / "o").iterdir()) == []  # the temp file is gone, no partial PNG


def test_eval_of_a_run_folder_whose_name_is_not_utf8_writes_its_row(runs, tmp_path, capsys):
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/run-\xff"))
    shutil.copytree(runs / "run", odd)
    with registered():
        assert main(["eval", str(odd), "--max-images", "2", "--size", "16"]) == 0
    row = (odd / "eval.csv").read_text().splitlines()[1]
    assert "run-\\udcff" in row  # the undecodable byte, escaped: the file stays UTF-8
    assert "Traceback" not in capsys.readouterr().err
