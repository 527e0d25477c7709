"""The method contract: what every colourisation method implements, and nothing more.

A method is one file in ``methods/`` with one class registered by :func:`colorbench.registry.register_method`.
It subclasses :class:`Method` and provides:

* ``Config``: a dataclass whose defaults are the source paper's hyperparameters;
* ``variants``: named config overrides (``{"default": {}, "no_sn": {"spectral_norm": False}}``) that bench
  profiles select by name;
* ``test_overrides``: a small configuration (few channels, small crop) that the shared conformance suite trains;
* ``watch_loss``: the loss key that the conformance suite watches fall (for a GAN, its reconstruction term);
* ``needs_labels``: whether the paper configuration trains on class labels; a method whose variants differ
  overrides :meth:`Method.labels_needed`, which decides per configuration;
* ``phase_starts()``: optional, the steps where what a step computes changes (default: every step alike);
* ``table_notes``: optional ``{variant: note}`` that result tables print beside that variant's rows (e.g. where a
  row is not quite the paper's network);
* ``__init__(config, num_classes=None)``: build networks (as ``nn.Module`` attributes) and optimisers;
* ``train_step(batch, step) -> dict[str, float | Tensor]``: one optimisation step; schedules derive from ``step``
  (a schedule stated in epochs converts with :meth:`Method.epoch_steps`, from the ``steps_per_epoch`` the trainer
  sets before the first step). Each loss is a Python float or a one-element tensor (a loss left on the device,
  not ``.item()``-ed: the trainer reads it only at its log points, so the step never waits for the device);
* ``capturable`` / ``capture_note``: optional, whether ``train_step`` can be captured whole in one CUDA graph
  (``--cuda-graphs``), or why not (see :attr:`Method.capturable`);
* ``predict(L, **kwargs) -> ab``: the method's own prediction, ``[B,1,H,W]`` normalised L (L/50-1) ->
  ``[B,2,H,W]`` normalised ab (ab/110), any H and W, at the input's size. A method never calls ``eval()``,
  ``train()`` or ``torch.no_grad()`` here: callers use :meth:`Method.colorize`, which the base class owns.

:meth:`Method.colorize` (not overridden: registration refuses a class that does) runs ``predict`` under
``torch.no_grad()``, with ``L`` moved to the method's device and every submodule in eval mode (running batch-norm
statistics, no dropout), then puts back each submodule's previous train/eval flag, so a notebook's
``method.colorize(L)`` changes no buffer. A method whose paper normalises with the statistics of the batch at
inference declares :attr:`Method.inference_norm` ``= "batch"`` (batch norms use the batch's statistics and leave
their running buffers untouched, :func:`colorbench.nets.blocks.batch_statistics`).

Units: a batch's ``"L"`` and ``"ab"`` are normalised (``L/50 - 1`` and ``ab/110``, both about [-1, 1]); a tensor in
Lab units is named ``lab`` / ``ab_lab``. ``state_dict`` / ``load_state_dict`` come from ``nn.Module`` and hold
every network; optimiser state is reached through :meth:`Method.optimizers` so the trainer can checkpoint it.

The trainer (``colorbench.train``) moves the method to a device and memory format, may replace a network
attribute with a ``DistributedDataParallel`` wrapper (see :meth:`Method.replace_network`), runs ``train_step``
under autocast on CUDA, and switches ``train()`` / ``eval()`` modes (``colorize`` switches to eval mode and
back): method code never needs to know.
"""
from __future__ import annotations

from typing import Any, ClassVar, Hashable, Mapping

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
    # Metadata the results layer reads (the core never names a method; what it must know lives here):
    is_baseline: ClassVar[bool] = False
    """A reference row (a constant or trivial predictor): kept when ``--methods`` narrows a grid, listed first,
    never flagged as degenerate, and the row every trained method is tested against."""
    published: ClassVar[dict[tuple[str, str, str], tuple[str, str]]] = {}
    """Published rows this method reproduces: ``(source, published method, published variant) -> (our variant,
    how)``, keys as in ``colorbench/reference/published.csv``."""
    runtime_variants: ClassVar[tuple[str, ...]] = ()
    """Variants that differ from another only at inference (one trained model serves them all, through
    :meth:`inference_kwargs`): timed untrained in runtime cells."""
    runtime_reference: ClassVar[str | None] = None
    """The variant that :attr:`runtime_variants` are timed against (the ratio tables, e.g. C2F / base)."""
    frozen_pretrained: ClassVar[bool] = False
    """The backbones named by :meth:`pretrained_flags` are frozen: with random weights (no file on disk) the row is
    not the published method, and tables never rank it."""
    backbones: ClassVar[tuple[str, ...]] = ()
    """Pretrained weight sets (names in ``colorbench.pretrained.BACKBONES``) some variant of this method loads."""
    zoo: ClassVar[dict[str, Any]] = {}
    """Released models of this method, loadable without training: entry name -> ``colorbench.pretrained.ZooEntry``
    (URL, licence, file, key mapping, the config that makes the network the released one). Used by the zoo name
    ``METHOD:ENTRY`` wherever a run folder goes."""
    table_notes: ClassVar[dict[str, str]] = {}
    """variant -> a sentence every table prints under this method's row (an assumption a reader must know)."""
    inference_norm: ClassVar[str] = "running"
    """How batch norms normalise inside :meth:`colorize`: ``"running"`` (eval mode, the running statistics) or
    ``"batch"`` (each batch's own statistics, running buffers unchanged). A class attribute or a property reading
    the config."""
    capturable: ClassVar[bool] = False
    """Whether ``train_step`` can be captured whole in one CUDA graph (``--cuda-graphs``,
    :mod:`colorbench.train.graphs`): it returns its losses as tensors (no ``.item()``, nothing that waits for the
    device), keeps every shape fixed, draws random numbers on the device only (CPU-side randomness would be frozen
    at capture), builds the same kernels at every step, and what Python computes from ``step`` (a learning rate)
    changes only where :meth:`capture_key` says. Frozen modules in eval mode are fine."""
    capture_note: ClassVar[str] = "its train_step has not been made capturable"
    """Why ``train_step`` cannot be captured (a clause the ``--cuda-graphs`` refusal prints) when not capturable."""
    # Set by the trainer before the first step: batches per epoch on this rank (None outside the trainer).
    steps_per_epoch: int | None = None

    def __init__(self, config: Any = None, num_classes: int | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()
        self.num_classes = num_classes
        if self.labels_needed(self.config) and not num_classes:
            raise ValueError(
                f"method {self.name!r} needs class labels, but the dataset has none; use a dataset with "
                "classes: 'sample' (source photo), 'synthetic', 'cifar10', or 'folder' with one sub-folder per class"
            )

    @classmethod
    def labels_needed(cls, config: Any) -> bool:
        """Whether ``config`` trains on class labels (default: the class's ``needs_labels``)."""
        return bool(cls.needs_labels)

    # ----------------------------------------------------------------------------------------- contract
    def train_step(self, batch: Batch, step: int) -> dict[str, float | torch.Tensor]:
        """One optimisation step on ``batch`` at global step ``step`` (0-based); returns the losses, each a float or
        a one-element tensor (left on the device: the trainer reads it at its log points)."""
        raise NotImplementedError

    def predict(self, L: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """The method's prediction: ``[B,1,H,W]`` L/50-1 on the method's device -> ``[B,2,H,W]`` ab/110 at the same
        H and W. Called by :meth:`colorize` (no gradients, eval mode); never call ``eval()``/``train()`` here."""
        raise NotImplementedError

    def colorize(self, L: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 (any device) -> ``[B,2,H,W]`` ab/110 on the method's device, at the same H and W.

        Runs :meth:`predict` without gradients, in eval mode (or with batch statistics where
        :attr:`inference_norm` is ``"batch"``), and restores every submodule's train/eval flag afterwards: no
        parameter, buffer or mode changes. ``kwargs`` go to ``predict`` (e.g. :meth:`inference_kwargs`)."""
        from colorbench.nets.blocks import batch_statistics, evaluating

        mode = self.inference_norm
        if mode not in ("running", "batch"):
            raise ValueError(f"{self.name}: inference_norm must be 'running' or 'batch', got {mode!r}")
        with torch.no_grad(), (batch_statistics if mode == "batch" else evaluating)(self):
            return self.predict(L.to(self.device), **kwargs)

    # ------------------------------------------------------------------------------- trainer's helpers
    def networks(self) -> dict[str, nn.Module]:
        """The trainable networks by attribute name: every ``nn.Module`` child but the frozen feature extractors
        (:class:`colorbench.nets.frozen.FrozenFeatures`), which the trainer and DDP never see."""
        from colorbench.nets.frozen import FrozenFeatures

        return {k: v for k, v in self.named_children() if not isinstance(v, FrozenFeatures)}

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

    def phase_starts(self) -> tuple[int, ...]:
        """The global steps (0-based) at which what one ``train_step`` computes changes, e.g. where L1 pretraining
        gives way to a GAN; default ``(0,)``: every step alike. :mod:`colorbench.train.flops` counts one step of
        each phase. A phase given in epochs reads :attr:`steps_per_epoch` (set before this is called)."""
        return (0,)

    def capture_refusal(self) -> str | None:
        """Why this instance's ``train_step`` cannot be captured in a CUDA graph (None: it can). Default: by the
        class's :attr:`capturable` and :attr:`capture_note`; a method whose configuration decides overrides it."""
        return None if self.capturable else self.capture_note

    def capture_key(self, step: int) -> Hashable:
        """What Python computes from ``step`` that a captured graph freezes (e.g. the learning rate of a step
        decay); the trainer captures the step again whenever the key changes. Default None: every step alike."""
        return None

    def pretrained_flags(self) -> dict[str, bool]:
        """Which pretrained backbones this instance actually loaded, e.g. ``{"resnet18": False}``."""
        return {}

    @classmethod
    def data_config(cls, config: Any, dataset: str, *, size: int,
                    data_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Config overrides that depend on the training set (default: none), e.g. a colour prior computed once
        from it and cached (its file and content hash). The bench grid calls this before it keys a cell and the
        trainer before it builds the method by name, both with the dataset's name, the training crop ``size`` and
        the dataset options (``data_dir`` included); a value the user set explicitly wins. Because the returned
        values enter the resolved config, they are part of the cell key."""
        return {}

    @classmethod
    def inference_kwargs(cls, variant: str) -> dict[str, Any]:
        """Keyword arguments of ``colorize`` that make a model trained as another variant act as ``variant``
        (for :attr:`runtime_variants`; default: none)."""
        return {}

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")
