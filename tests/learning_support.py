"""Shared by the learning tests (test_method_cic.py, test_learnability.py): the hue share, the figure of "learned
colour" on the ``synthetic`` dataset, where an object's hue follows from its shape and texture.

Not a test module (no ``test_`` prefix). The share is the fraction of object pixels (true chroma above
:data:`OBJECT_CHROMA`) that the prediction colours within :data:`HUE_TOLERANCE_DEG` of their true hue with chroma
above :data:`COLOURED_CHROMA`, in Lab units. A grey prediction (``gray``) scores 0; a constant one scores at most
the share of the one class whose hue it falls near (0.28-0.29 on synthetic's test split), and ``mean_color``'s
low-chroma mean scores 0 (both measured in test_learnability.py). A random hue is within 30° about one time in six.
"""
from __future__ import annotations

from typing import Any

import torch

from colorbench.color import AB_SCALE

OBJECT_CHROMA = 25.0  # synthetic's objects have chroma 40, its background 0; anti-aliased edges fall in between
COLOURED_CHROMA = 10.0
HUE_TOLERANCE_DEG = 30.0


def _hue(ab: torch.Tensor) -> torch.Tensor:
    """Hue in degrees of ``[B,2,...]`` ab."""
    return torch.rad2deg(torch.atan2(ab[:, 1], ab[:, 0]))


def _hue_error(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Absolute hue difference in degrees, in [0, 180]."""
    return ((_hue(pred) - _hue(true) + 180) % 360 - 180).abs()


def hue_share(pred_ab: torch.Tensor, true_ab: torch.Tensor) -> float:
    """Share of object pixels of ``true_ab`` coloured with their hue by ``pred_ab`` (both ``[B,2,H,W]`` at the
    network scale, ab/110; see the module docstring). Raises when ``true_ab`` has no object pixel."""
    pred, true = pred_ab.float() * AB_SCALE, true_ab.float() * AB_SCALE
    obj = true.norm(dim=1) > OBJECT_CHROMA
    if not bool(obj.any()):
        raise ValueError("hue_share: no object pixel (true chroma > 25) in the images")
    hit = (_hue_error(pred, true) < HUE_TOLERANCE_DEG) & (pred.norm(dim=1) > COLOURED_CHROMA)
    return hit[obj].float().mean().item()


def class_hue_errors(pred_ab: torch.Tensor, true_ab: torch.Tensor, labels: torch.Tensor,
                     classes: int = 4) -> list[float]:
    """Per class, the hue error (degrees) of the mean predicted ab over the class's object pixels."""
    pred, true = pred_ab.float() * AB_SCALE, true_ab.float() * AB_SCALE
    obj = true.norm(dim=1) > OBJECT_CHROMA
    errors = []
    for c in range(classes):
        sel = obj & (labels == c)[:, None, None]
        mean_p = torch.stack((pred[:, 0][sel].mean(), pred[:, 1][sel].mean()))[None, :, None]
        mean_t = torch.stack((true[:, 0][sel].mean(), true[:, 1][sel].mean()))[None, :, None]
        errors.append(float(_hue_error(mean_p, mean_t)))
    return errors


def hue_accuracy(method: Any, batch: dict) -> tuple[float, list[float]]:
    """:func:`hue_share` and :func:`class_hue_errors` of ``method.colorize`` on one batch (``L``, ``ab``,
    ``label``)."""
    pred = method.colorize(batch["L"])
    return hue_share(pred, batch["ab"]), class_hue_errors(pred, batch["ab"], batch["label"])


def evaluated_hue_share(method: Any, dataset: Any, max_images: int | None = None,
                        batch_size: int = 64) -> tuple[float, dict]:
    """:func:`hue_share` of ``method`` on the first ``max_images`` items of ``dataset`` (all when None) through the
    shared evaluator (:func:`colorbench.evaluator.evaluate`, which colourises them with ``method.colorize`` and keeps
    the predictions it scored, as float16), and the evaluator's figures."""
    from colorbench.evaluator import evaluate

    count = len(dataset) if max_images is None else max_images
    result = evaluate(method, dataset, batch_size=batch_size, max_images=count, samples=count, keep_records=False)
    pred, true = (torch.from_numpy(result.samples[k]).float() for k in ("ab_pred", "ab_true"))
    return hue_share(pred, true), result.figures


def rendered_once(dataset: Any) -> Any:
    """``dataset`` (a ``synthetic`` split) with each image rendered on its first use and kept: the same items and
    batches (flips still follow the epoch), without re-rendering every image every epoch, which was half of a
    small method's training time. Only the class's :meth:`crop` is replaced, on this one object."""
    from colorbench.data import synthetic

    if not isinstance(dataset, synthetic.SyntheticDataset):
        raise TypeError(f"rendered_once: a synthetic dataset, not {type(dataset).__name__}")
    images: dict[int, Any] = {}
    plain = dataset.crop

    def crop(index: int) -> tuple[Any, int, bool]:
        if index not in images:
            images[index], _, _ = plain(index)  # the rendered image does not depend on the epoch
        flip = dataset.augment and bool(synthetic.item_rng(dataset.seed, dataset.epoch, index, 10).integers(0, 2))
        return images[index], dataset.label(index), flip

    dataset.crop = crop
    return dataset
