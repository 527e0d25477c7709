"""Learnability: every trained method, at its small test configuration and a short budget, beats ``mean_color`` on
``synthetic``'s test split.

Every method in the registry takes part (the list is read at collection, so a new method is covered; one without a
measured entry in :data:`BUDGET` gets :data:`DEFAULT_BUDGET`), except:

* the baselines (``is_baseline``): ``mean_color`` is the reference itself, ``gray`` is a floor, not a learner;
* methods that declare they do not train (``trainable = False``): today only ``gray``.

One run: the method's ``test_overrides`` at the conformance crop (:func:`colorbench.conformance.crop`; the
pretrained backbones of featrec (VGG16, frozen), koalarization (a tiny stand-in for Inception-ResNet-v2) and c2f
(ResNet18) are random there, ``pretrained = "false"``: nothing is downloaded) is resolved on ``synthetic`` with
:data:`IMAGES` train images and trained by the shared trainer for its budget;
``mean_color`` is fitted on the same train images (one epoch of the same split, crop, seed and length); both are
scored by the shared evaluator on the dataset's protocol, as a bench cell does (test split, 16 px, 64 images,
seeded by the run).

The figure is PSNR (dB), not mae_ab. ``mean_color`` is the best constant colour by squared error and PSNR is a
squared error (in sRGB), so a method beats it on PSNR only by using the image: measured on seeds 0 and 3, no
constant near the mean (0.5-3 times it, or moved by 0.02 in a or b) scores more than 0.001 dB above it, and
``gray`` scores 0.02 dB below it. On mae_ab the best constant is the median, which here is grey (most pixels are
background): ``gray`` scores 0.0535 against ``mean_color``'s 0.0574, so a network that collapsed to grey would
"beat" mean_color on mae_ab without learning any colour. The pass mark is a margin above :data:`FLOOR_DB`, which no
constant reaches, and above half of the method's worst measured margin (:data:`THRESHOLD_DB`).

Only ``unet_l2`` learns colour within the file's budget (about 90 s of CPU at one thread, inside ``make test``);
every other method is ``xfail(strict=True)`` with its measured reason (:data:`XFAIL`): its test configuration needs
more than its share of the budget to beat a constant, or does not beat it at any budget tried. Strict: a method
that starts to pass at its budget fails the run, so its entry is then removed and its margin measured. Only a
failed assertion counts as the expected failure (``raises=AssertionError``): a crash still fails.

To measure the table of margins over seeds: ``python tests/test_learnability.py [METHOD ...] --seeds 0-5``.
"""
from __future__ import annotations

import sys

import pytest

import colorbench
from colorbench.registry import get_method

DATASET = "synthetic"
IMAGES = 256  # synthetic's default train length
FLOOR_DB = 0.1  # above any constant colour (at most +0.001 dB over mean_color, measured; see the module docstring)

BUDGET: dict[str, tuple[int, int]] = {
    # method: (steps, batch). CPU seconds of one test (training, mean_color's fit, both evaluations), measured over
    # seeds 0-5 at one thread in the portable mode on this 2-core machine while others shared it.
    "unet_l2": (1600, 32),  # 45-48 s: the one that learns. Shorter runs (probe, seed 0's test images): at 1000 steps
    #                         seed 4 was still below mean_color (-0.14 dB), at 1400 seed 3 was +0.51 dB
    "unet_l1": (160, 32),  # 5.2-5.4 s
    "pix2pix": (160, 32),  # 4.3-4.9 s
    "cic": (120, 32),  # 4.5-5.4 s
    "vacgan": (80, 32),  # 4.5-4.6 s
    "koalarization": (90, 32),  # 4.3-5.0 s
    "gorriz": (70, 8),  # 4.7-5.0 s (32 px crop: ~55 ms a step at batch 8)
    "featrec": (70, 8),  # 5.5-6.1 s
    "c2f": (16, 8),  # 4.6-4.8 s (~250 ms a step at batch 8); 10 of the 16 are its L1 pretraining
}
DEFAULT_BUDGET = (300, 32)  # a method registered after these measurements: measure it and add its entry

THRESHOLD_DB: dict[str, float] = {
    # Half the worst margin measured over seeds 0-5 at the budget above (spread in the comment), never below FLOOR_DB.
    # unet_l2, seeds 0-5: +4.03, +3.41, +3.02, +1.36, +2.52, +2.07 dB (min 1.36, median 2.77, max 4.03; the committed
    # seed 0 is the best, seed 3 the worst); the 0.65 dB mark leaves the worst seed 0.71 dB of room.
    "unet_l2": 0.65,
}

XFAIL: dict[str, str] = {
    # The measured reason: margins over seeds 0-5 at the budget above, then what longer runs gave (steps x batch,
    # CPU seconds of training; seed 0 and seed 0's test images unless said). Each of these methods has ~5 s of the
    # file's ~90 s; none beats the floor on every seed at any budget tried up to 25-50 s (c2f: 100 s).
    "unet_l1": "at 160x32: -1.01..-0.48 dB; 800x32 (20 s): -0.07, 1500x8 (17 s): -0.01: it reaches mean_color's "
               "PSNR, not past it (an L1 fit likely stays grey, the median, where it is unsure)",
    "pix2pix": "at 160x32: -1.90..-0.53 dB; 1000x32 (26-32 s), seeds 0-5: +1.2..+2.1 dB on 4 seeds, but seeds 1 and "
               "4 stay below (-0.19, -0.24): six times its share and still seed-dependent",
    "cic": "at 120x32: -0.39..-0.09 dB; 800x32 (27 s): -1.47, 800x16 (15 s): -0.04, 1500x8 (25 s): -0.16",
    "vacgan": "at 80x32: -9.99..-5.67 dB; 800x32 (39 s): -0.87, 800x16 (22 s): -0.76",
    "koalarization": "at 90x32: -0.08..+0.003 dB; 800x32 (35 s): +0.002, 800x16 (18 s): -0.02: the colour net (width "
                     "1/8, fused with a random tiny extractor) stays at the constant mean on every budget tried",
    "gorriz": "at 70x8: -4.86..-3.29 dB; 400x8 (22 s): -2.33; trained at 16 px, 600x8 (24 s): -1.45",
    "featrec": "at 70x8: -4.83..-3.28 dB; 400x8 (25 s): -2.59; trained at 16 px, 600x8 (23 s): -1.28 (its generator "
               "and losses are gorriz's plus a 1e-5 feature loss: the same figures to ~0.05 dB)",
    "c2f": "at 16x8: -0.05..-0.01 dB; 200x8 (51 s): +0.42, 400x8 (100 s): +0.30: it learns some colour, but at "
           "~250 ms a step its share is ~20 steps, 10 of them L1 pretraining",
}


def trained_methods() -> list[str]:
    """Registered methods that learn: not baselines, not ``trainable = False``."""
    return [n for n in colorbench.list_methods() if not get_method(n).is_baseline and get_method(n).trainable]


def psnr_pair(name: str, seed: int, steps: int, batch: int) -> tuple[float, float]:
    """PSNR of ``name`` trained ``steps`` steps of ``batch`` and of ``mean_color`` fitted on the same train images,
    both on the dataset's test protocol (see the module docstring)."""
    from colorbench.conformance import crop
    from colorbench.evaluator import evaluate
    from colorbench.train import resolve, train

    cls = get_method(name)
    size = crop(name)
    common = {"size": size, "batch_size": batch, "seed": seed, "data_options": {"length": IMAGES},
              "device": "cpu", "ckpt_every": None, "progress": False}
    spec = resolve(cls, DATASET, overrides=cls.test_overrides, steps=steps, **common)
    method = train(spec).method
    floor = train(resolve("mean_color", DATASET, epochs=1, **common)).method
    protocol = spec.protocol
    test = spec.data(protocol.split, protocol.size)
    scores = [evaluate(m, test, batch_size=64, max_images=protocol.max_images, keep_records=False).figures["psnr"]
              for m in (method, floor)]
    return scores[0], scores[1]


def _param(name: str):
    if name not in XFAIL:
        return name
    return pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=XFAIL[name]))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", [_param(n) for n in trained_methods()])
def test_beats_mean_color_on_synthetic(name):
    steps, batch = BUDGET.get(name, DEFAULT_BUDGET)
    threshold = max(FLOOR_DB, THRESHOLD_DB.get(name, FLOOR_DB))
    method, floor = psnr_pair(name, 0, steps, batch)
    assert method - floor > threshold, (
        f"{name} after {steps} steps of {batch}: PSNR {method:.3f} dB, mean_color {floor:.3f} dB, margin "
        f"{method - floor:+.3f} dB, needs > {threshold} dB")


def test_exclusions_are_the_baselines_and_the_untrainable():
    """The parametrization above leaves out exactly the baselines and ``trainable = False`` methods."""
    left_out = sorted(set(colorbench.list_methods()) - set(trained_methods()))
    assert "mean_color" in left_out and "gray" in left_out and "unet_l2" not in left_out
    assert all(get_method(n).is_baseline or not get_method(n).trainable for n in left_out)


def _main(argv: list[str]) -> None:
    """Print (method, seed, method PSNR, mean_color PSNR, margin, CPU seconds) at each method's budget."""
    import argparse
    import time

    import conftest  # noqa: F401  (the suite's numeric mode and one thread)

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("methods", nargs="*")
    parser.add_argument("--seeds", default="0-5", help="a range A-B or a comma list")
    args = parser.parse_args(argv)
    a, _, b = args.seeds.partition("-")
    seeds = list(range(int(a), int(b) + 1)) if b else [int(s) for s in args.seeds.split(",")]
    print("method          seed  steps batch  method_dB  mean_dB   margin   cpu_s", flush=True)
    for name in args.methods or trained_methods():
        steps, batch = BUDGET.get(name, DEFAULT_BUDGET)
        for seed in seeds:
            start = time.process_time()
            method, floor = psnr_pair(name, seed, steps, batch)
            print(f"{name:15s} {seed:4d} {steps:6d} {batch:5d} {method:10.3f} {floor:8.3f} {method - floor:+8.3f} "
                  f"{time.process_time() - start:7.1f}", flush=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
