"""The method contract: what every colourisation method implements, and nothing more.

A method is one file in ``methods/`` with one class registered by :func:`colorbench.registry.register_method`.
It subclasses :class:`Method` and provides:

* ``Config``: a dataclass whose defaults are the source paper's hyperparameters;
* ``variants``: named config overrides (``{"default": {}, "no_sn": {"spectral_norm": False}}``) that bench
  profiles select by name;
* ``test_overrides``: a small configuration (few channels, small crop) that the shared conformance suite trains;
* ``watch_loss``: the loss key that the conformance suite watches fall (for a GAN, its reconstruction term);
* ``__init__(config, num_classes=None)``: build networks (as ``nn.Module`` attributes) and optimisers;
* ``train_step(batch, step) -> dict[str, float]``: one optimisation step; schedules derive from ``step`` (a
  schedule stated in epochs converts with :meth:`Method.epoch_steps`, from the ``steps_per_epoch`` the trainer
  sets before the first step);
* ``colorize(L) -> ab``: ``[B,1,H,W]`` normalised L (L/50-1) -> ``[B,2,H,W]`` normalised ab (ab/110),
  no gradients, any H and W, at the input's size.

Units: a batch's ``"L"`` and ``"ab"`` are normalised (``L/50 - 1`` and ``ab/110``, both about [-1, 1]); a tensor in
Lab units is named ``lab`` / ``ab_lab``. ``state_dict`` / ``load_state_dict`` come from ``nn.Module`` and hold
every network; optimiser state is reached through :meth:`Method.optimizers` so the trainer can checkpoint it.

The trainer (``colorbench.train``) moves the method to a device and memory format, may replace a network
attribute with a ``DistributedDataParallel`` wrapper (see :meth:`Method.replace_network`), runs ``train_step``
under autocast on CUDA, and switches ``train()`` / ``eval()`` modes: method code never needs to know.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

Batch = Mapping[str, Any]
"""A batch: ``{"L": [B,1,H,W] L/50-1, "ab": [B,2,H,W] ab/110, "rgb": [B,3,H,W] in [0,1],
"index": [B] int64, "label": [B] int64 (when the dataset has classes)}``."""


class Method(nn.Module):
    """Base class of every colourisation method. See the module docstring for the contract."""

    # Declared by @register_method:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    source: ClassVar[str] = ""
    # Declared by the method file:
    Config: ClassVar[type] = type(None)
    variants: ClassVar[dict[str, dict[str, Any]]] = {"default": {}}
    test_overrides: ClassVar[dict[str, Any]] = {}
    watch_loss: ClassVar[str] = "loss"
    needs_labels: ClassVar[bool] = False
    trainable: ClassVar[bool] = True
    # Set by the trainer before the first step: batches per epoch on this rank (None outside the trainer).
    steps_per_epoch: int | None = None

    def __init__(self, config: Any = None, num_classes: int | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()
        self.num_classes = num_classes
        if self.needs_labels and not num_classes:
            raise ValueError(
                f"method {self.name!r} needs class labels, but the dataset has none; use a dataset with "
                "classes: 'sample' (source photo), 'synthetic', 'cifar10', or 'folder' with one sub-folder per class"
            )

    # ----------------------------------------------------------------------------------------- contract
    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        """One optimisation step on ``batch`` at global step ``step`` (0-based); returns the losses as floats."""
        raise NotImplementedError

    @torch.no_grad()
    def colorize(self, L: torch.Tensor) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110 at the same H and W."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------- trainer's helpers
    def networks(self) -> dict[str, nn.Module]:
        """The trainable networks by attribute name (default: every ``nn.Module`` child)."""
        return dict(self.named_children())

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser the method holds as an attribute, by attribute name."""
        return {k: v for k, v in vars(self).items() if isinstance(v, torch.optim.Optimizer)}

    def replace_network(self, name: str, module: nn.Module) -> None:
        """Swap network ``name`` for ``module`` (e.g. its DDP wrapper); the parameters stay the same objects."""
        if name not in self._modules:
            raise KeyError(f"{type(self).__name__} has no network {name!r}; it has {sorted(self._modules)}")
        self._modules[name] = module

    def epoch_steps(self, epochs: float, what: str = "a schedule") -> int:
        """``epochs`` in optimisation steps, ``round(epochs * steps_per_epoch)``, for ``what`` (named in the error).

        ``steps_per_epoch`` is the trainer's (``len(train set) // (batch_size * processes)``); outside the trainer
        set it by hand or give the schedule in steps."""
        if not self.steps_per_epoch:
            raise ValueError(f"{self.name}: {what} is given in epochs ({epochs:g}), but steps_per_epoch is unknown; "
                             "train through colorbench.train (it sets method.steps_per_epoch), set it yourself, "
                             "or give that schedule in steps")
        return int(round(float(epochs) * int(self.steps_per_epoch)))

    def pretrained_flags(self) -> dict[str, bool]:
        """Which pretrained backbones this instance actually loaded, e.g. ``{"resnet18": False}``."""
        return {}

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    @classmethod
    def config_fields(cls) -> dict[str, Any]:
        return {f.name: f for f in dataclasses.fields(cls.Config)}
