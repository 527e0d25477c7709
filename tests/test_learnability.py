"""Learnability: every trained method, at a small configuration and a short budget, learns the colour of
``synthetic``'s objects well enough to beat ``mean_color`` and every other constant colour on the test split.

Every method in the registry takes part (the list is read at collection, so a new method is covered; one without a
measured entry in :data:`BUDGET` gets :data:`DEFAULT_BUDGET`), except:

* the baselines (``is_baseline``): ``mean_color`` is the reference itself, ``gray`` is a floor, not a learner;
* methods that declare they do not train (``trainable = False``): today only ``gray``.

One run: the method's ``test_overrides`` plus its budget's ``overrides`` (each with its reason beside it) at the
conformance crop (:func:`colorbench.conformance.crop`; the pretrained backbones of featrec, koalarization and c2f are
random there, ``pretrained = "false"``: nothing is downloaded) is resolved on ``synthetic`` with :data:`IMAGES`
train images and trained by the shared trainer for its budget; ``mean_color`` is fitted on the same train images
(one epoch of the same split, crop, seed and length). Both are scored on the dataset's protocol (test split, 16 px,
seeded by the run; the run's ``length`` applies to every split, so 256 test images) by the shared evaluator, which
colourises them with ``method.colorize``; the figure is computed on the predictions it scored. The train split is
rendered once per run (:func:`learning_support.rendered_once`: the same batches, half the time of a small run).

**The figure is the hue share** (:func:`learning_support.hue_share`): the share of object pixels (true chroma > 25)
the prediction colours within 30° of their true hue with chroma > 10. In ``synthetic`` an object's hue follows from
its shape and texture (four classes, four hues), so the share measures exactly what a colouriser must learn there.
PSNR, the figure of the first version, rewards grey-ish output and punishes the noisy colours of a briefly trained
network: only ``unet_l2`` beat ``mean_color`` on it, after 1600 steps.

**The pass mark** is the largest of (measured over seeds 0-5; :func:`references`):

* ``mean_color``'s share + :data:`MARGIN`: its constant is the training mean, chroma 0.84-0.95 (grey background
  and four hues that nearly cancel), so it colours no pixel: 0.000 on every seed, and ``gray`` 0.000;
* the best *constant* colour's share + :data:`MARGIN` (chroma 40, every hue in steps of 5°, scored on the same
  test images): a constant near one class's hue colours that class's objects, 0.277-0.290 (the largest class's
  share of object pixels; no hue is within 30° of two classes' hues). A network that learned nothing but one
  colour scores as much: after one training step ``cic`` (the annealed mean of random logits) scores 0.28-0.29 and
  ``gorriz`` 0.17-0.18 (seeds 0 and 3), and a GAN that paints every object with one hue plateaus at 0.25-0.30.
  Above this mark a method colours the objects of at least two classes with their own hue: it learned colour from
  shape and texture;
* :data:`THRESHOLD`, half of the method's worst share over seeds 0-5 at its budget (both today's are below the
  constant mark; kept so that a method learning far better than the mark is held to its own level).

Methods that cannot pass within the file's budget (about 90 s of CPU at one thread, inside ``make test``) are
``xfail(strict=True)`` with the measured reason (:data:`XFAIL`): strict, so a method that starts to pass fails the
run and its entry is then removed and its shares measured. Only a failed assertion counts as the expected failure
(``raises=AssertionError``): a crash still fails.

To measure the table of shares over seeds: ``python tests/test_learnability.py [METHOD ...] --seeds 0-5``.
"""
from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

if __name__ == "__main__":  # the suite's numeric mode and one thread, before torch's first tensor op
    import conftest  # noqa: F401

import pytest
import torch

import colorbench
from colorbench.registry import get_method
from learning_support import evaluated_hue_share, hue_share, rendered_once

DATASET = "synthetic"
IMAGES = 256  # synthetic's default train length
MARGIN = 0.1  # above mean_color's share and above the best constant colour's


@dataclass(frozen=True)
class Budget:
    """``steps`` of ``batch`` with config ``overrides`` on top of the method's ``test_overrides``."""

    steps: int
    batch: int
    overrides: Mapping[str, Any] = field(default_factory=dict)


# The KTH U-Net at the test width (8 channels) learns colour slowly with batch norm and dropout: at the test
# configuration unet_l2 needed 800 steps of 32 (14 s) for a share of 0.45 on seed 0, and unet_l1 had 0.04-0.06 after
# 160. Without norm (a config option of the method) and dropout, at Adam 3e-3 (the test overrides' rate is the
# paper's 1e-3), both learn the four hues in a few hundred steps. Batch norm alone, or dropout alone, removed: still
# slow (unet_l2 BN without dropout 0.40 after 600 of 32; unet_l1 without norm, with dropout, 0.32-0.40 after 400).
PLAIN_UNET = {"norm": "none", "dropout": 0.0, "lr": 3e-3}

BUDGET: dict[str, Budget] = {
    # CPU seconds of one test (training, the evaluation, and mean_color's fit and the constants, ~0.7 s, which the
    # file does once per crop), measured over seeds 0-5 at one thread in the portable mode on this 2-core machine
    # while others shared it (``python tests/test_learnability.py``).
    "unet_l2": Budget(300, 32, PLAIN_UNET),  # 5.1-6.1 s
    "unet_l1": Budget(600, 32, PLAIN_UNET),  # 10.3-11.4 s; at 600x16 seed 5 stayed at 0.09 (the others 0.64-0.79)
    "pix2pix": Budget(160, 32),  # 4.3-4.5 s
    "cic": Budget(120, 32),  # 4.7-5.5 s
    "vacgan": Budget(80, 32),  # 5.2-5.6 s
    "koalarization": Budget(90, 32),  # 4.6-5.0 s
    "gorriz": Budget(70, 8),  # 6.8-7.2 s (32 px crop)
    "featrec": Budget(70, 8),  # 7.7-8.3 s
    "c2f": Budget(16, 8),  # 5.4-5.7 s (~250 ms a step at batch 8); 10 of the 16 are its L1 pretraining
    "ddcolor": Budget(60, 8),  # 5.7-6.4 s
    "ideepcolor": Budget(150, 32),  # 5.4-5.9 s (an AMD EPYC, unshared)
}
DEFAULT_BUDGET = Budget(300, 32)  # a method registered after these measurements: measure it and add its entry

THRESHOLD: dict[str, float] = {
    # Half the worst share measured over seeds 0-5 at the budget above. Both are below the constant mark
    # (0.377-0.390 on seeds 0-5), which is then the binding one: the worst seed has ~0.3 of room.
    # unet_l2, seeds 0-5: 0.825, 0.794, 0.685, 0.811, 0.760, 0.782 (min 0.685, median 0.788, max 0.825)
    "unet_l2": 0.34,
    # unet_l1, seeds 0-5: 0.728, 0.678, 0.777, 0.808, 0.770, 0.830 (min 0.678, median 0.774, max 0.830)
    "unet_l1": 0.34,
}

XFAIL: dict[str, str] = {
    # The measured reason: shares over seeds 0-5 at the budget above (pass mark 0.377-0.390), then what longer runs
    # gave (steps x batch, overrides, CPU seconds; seed 0 unless said). None reaches the mark on every seed within
    # the ~10 s a method can have of the file's ~90 s; each keeps a ~5 s budget that exercises its training path.
    # A share of 0.1-0.3 is not learning: after one step cic scores 0.28-0.29, gorriz and featrec 0.17-0.18.
    "pix2pix": "at 160x32: 0.03-0.15; 800x32 with instance norm, width_g 16, Adam 1e-3 (20 s), seeds 0-5: 0.48, "
               "0.27, 0.26, 0.49, 0.26, 0.31 (four seeds paint every object one hue); without norm (init_std "
               "0.02-0.2, Adam 1e-3-3e-3): <= 0.15 at 400-600x32; L1 alone (lambda_l1 1e4): 0.00, grey",
    "cic": "at 120x32: 0.00-0.05; width 8, Adam 3e-3, no weight decay: 0.21 at 600x32, 0.55 at 1200x32 (79 s); "
           "Adam 1e-2 at batch 64: <= 0.07 over 300 steps",
    "vacgan": "at 80x32: 0.14-0.19 (objects painted, hue at random); Adam 1e-3: 0.09-0.12 over 600x32 (38 s); "
              "frozen-statistics norm, no dropout, Adam 1e-3 or 3e-3: <= 0.13 at 400x32 (seeds 0, 3, 5; 20 s); "
              "~55 ms a step at batch 32",
    "koalarization": "0.00 on every seed and budget tried, up to 2000x32 at 16 px (47 s): its MSE stays at the "
                     "constant's (0.0126), the colour net (14 plain ReLU convs at width 1/8) passes almost no "
                     "signal (encoder output std 0.013); the same with Adam 3e-3 or 1e-2, fusion_width 32, width "
                     "1/2, extractor_grey L, and loss binned_ce (<= 0.09 at 600x32, 60 s)",
    "gorriz": "at 70x8: 0.11-0.16; trained at 16 px with bn_momentum 0.1 (Keras' 0.01 leaves the running "
              "statistics near their start), Adam 1e-3: 0.47 at 1000x16 (71 s); 2e-3: 0.41 at 300x32 (30 s); "
              "one discriminator scale: 0.25 at 300x32 (21 s)",
    "ddcolor": "at 60x8: 0.000 (seeds 0, 3); 240x8 with every loss: 0.000 (18 s); L1 alone at Adam 1e-3: 0.000 at "
               "240x8 and 600x16 (26 s), and wider (encoder 16-128, nf 64, 16 queries; 300x16, 29 s); Adam 1e-2: "
               "0.000 at 300x16. It predicts ab in Lab units through a spectral-norm 1x1 conv (gain <= 1), as the "
               "reference does, so its output starts at |ab| ~0.3 and, overfitting one batch at 1e-3, reaches 7 "
               "of the true 38 in 200 steps",
    "ideepcolor": "at 150x32: 0.000-0.090 over seeds 0-5; 300x32: 0.000 and 0.121 (seeds 0, 3; 10 s); seed 0 at "
                  "Adam 3e-3: 0.282 at 600x32 (20 s), Adam 1e-2: 0.204 at 300x32 (10 s): the mark is 0.377",
    "featrec": "at 70x8: 0.11-0.16, the figures of gorriz to 0.002 (its generator and losses are gorriz's plus a "
               "1e-5 feature loss): the same budgets as gorriz would be needed",
    "c2f": "at 16x8: 0.00; plain L1 (pretraining for the whole run) at 16 px, Adam 1e-3: 0.18 at 300x16 (47 s), "
           "Adam 3e-3: 0.00 at 200x32 (55 s); ~150-270 ms a step",
}


def trained_methods() -> list[str]:
    """Registered methods that learn: not baselines, not ``trainable = False``."""
    return [n for n in colorbench.list_methods() if not get_method(n).is_baseline and get_method(n).trainable]


def _common(size: int, batch: int, seed: int) -> dict[str, Any]:
    return {"size": size, "batch_size": batch, "seed": seed, "data_options": {"length": IMAGES}, "device": "cpu",
            "ckpt_every": None, "progress": False}


def best_constant_share(test: Any) -> float:
    """The highest hue share of a constant colour (synthetic's chroma, every hue in steps of 5°; 1° steps give the
    same figures on seeds 0-5) on ``test``. Scored on the object pixels alone, the only ones the share counts."""
    from colorbench.color import AB_SCALE
    from colorbench.data.synthetic import CHROMA
    from learning_support import OBJECT_CHROMA

    true = test.get_batch(range(len(test)))["ab"]
    true = true.permute(1, 0, 2, 3).reshape(1, 2, -1, 1)  # every pixel as one column
    true = true[..., (true[0] * AB_SCALE).norm(dim=0)[:, 0] > OBJECT_CHROMA, :]
    shares = []
    for hue in range(0, 360, 5):
        ab = torch.tensor([math.cos(math.radians(hue)), math.sin(math.radians(hue))]) * CHROMA / AB_SCALE
        shares.append(hue_share(ab.view(1, 2, 1, 1).expand_as(true), true))
    return max(shares)


@functools.lru_cache(maxsize=None)
def references(size: int, seed: int) -> tuple[float, float]:
    """``mean_color``'s hue share (fitted on the train images at the ``size`` px crop) and the best constant
    colour's, on the test split of the run with ``seed``."""
    from colorbench.train import resolve, train

    spec = resolve("mean_color", DATASET, epochs=1, **_common(size, 64, seed))
    floor = train(spec, rendered_once(spec.data("train"))).method
    protocol = spec.protocol
    test = spec.data(protocol.split, protocol.size)
    share, _ = evaluated_hue_share(floor, test, protocol.max_images)
    return share, best_constant_share(test)


def hue_shares(name: str, seed: int, budget: Budget) -> tuple[float, float, float]:
    """Hue share of ``name`` trained for ``budget``, of ``mean_color`` fitted on the same train images and of the
    best constant colour, all on the dataset's test protocol (see the module docstring)."""
    from colorbench.conformance import crop
    from colorbench.train import resolve, train

    cls = get_method(name)
    size = crop(name)
    spec = resolve(cls, DATASET, overrides={**cls.test_overrides, **budget.overrides}, steps=budget.steps,
                   **_common(size, budget.batch, seed))
    method = train(spec, rendered_once(spec.data("train"))).method
    protocol = spec.protocol
    share, _ = evaluated_hue_share(method, spec.data(protocol.split, protocol.size), protocol.max_images)
    return (share, *references(size, seed))


def pass_mark(name: str, floor: float, constant: float) -> float:
    return max(floor + MARGIN, constant + MARGIN, THRESHOLD.get(name, 0.0))


def _param(name: str):
    if name not in XFAIL:
        return name
    return pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=XFAIL[name]))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", [_param(n) for n in trained_methods()])
def test_beats_mean_color_on_synthetic(name):
    budget = BUDGET.get(name, DEFAULT_BUDGET)
    share, floor, constant = hue_shares(name, 0, budget)
    mark = pass_mark(name, floor, constant)
    assert share > mark, (
        f"{name} after {budget.steps} steps of {budget.batch} ({dict(budget.overrides)}): hue share {share:.3f}, "
        f"mean_color {floor:.3f}, best constant colour {constant:.3f}, needs > {mark:.3f}")


def test_references_score_below_the_mark():
    """``mean_color`` and ``gray`` colour no object pixel; the best constant colour scores the largest class's share
    (values measured on seed 0's test images: see the module docstring)."""
    from colorbench.data import build_dataset

    floor, constant = references(16, 0)
    assert floor == 0.0
    assert constant == pytest.approx(0.2772, abs=0.0001)
    gray, _ = evaluated_hue_share(colorbench.create_method("gray"), build_dataset(DATASET, "test", size=16, seed=0))
    assert gray == 0.0


def test_rendered_once_gives_the_same_batches():
    """The render cache the runs train on changes no batch, in any epoch (flips follow the epoch)."""
    from colorbench.data import build_dataset

    plain = build_dataset(DATASET, "train", size=16, seed=3, length=24)
    cached = rendered_once(build_dataset(DATASET, "train", size=16, seed=3, length=24))
    for epoch in (0, 1, 2):
        plain.set_epoch(epoch)
        cached.set_epoch(epoch)
        for _ in range(2):  # the second pass reads the cache
            a, b = plain.get_batch(range(24)), cached.get_batch(range(24))
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), epoch


def test_exclusions_are_the_baselines_and_the_untrainable():
    """The parametrization above leaves out exactly the baselines and ``trainable = False`` methods."""
    left_out = sorted(set(colorbench.list_methods()) - set(trained_methods()))
    assert "mean_color" in left_out and "gray" in left_out and "unet_l2" not in left_out
    assert all(get_method(n).is_baseline or not get_method(n).trainable for n in left_out)


def _main(argv: list[str]) -> None:
    """Print (method, seed, steps, batch, hue share, mean_color's, best constant's, pass mark, CPU seconds) at each
    method's budget."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=_main.__doc__)
    parser.add_argument("methods", nargs="*")
    parser.add_argument("--seeds", default="0-5", help="a range A-B or a comma list")
    args = parser.parse_args(argv)
    a, _, b = args.seeds.partition("-")
    seeds = list(range(int(a), int(b) + 1)) if b else [int(s) for s in args.seeds.split(",")]
    print("method          seed  steps batch  share  mean_c  const   mark  cpu_s", flush=True)
    for name in args.methods or trained_methods():
        budget = BUDGET.get(name, DEFAULT_BUDGET)
        for seed in seeds:
            references.cache_clear()  # each row's CPU time includes mean_color's fit, as the first test's does
            start = time.process_time()
            share, floor, constant = hue_shares(name, seed, budget)
            print(f"{name:15s} {seed:4d} {budget.steps:6d} {budget.batch:5d} {share:6.3f} {floor:7.3f} "
                  f"{constant:6.3f} {pass_mark(name, floor, constant):6.3f} {time.process_time() - start:6.1f}",
                  flush=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
