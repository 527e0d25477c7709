"""C2F: iterative coarse-to-fine colourisation with a GAN, and the paper's base model.

Streule, Rüegg and Styger 2022, "Iterative Coarse-to-Fine Image Colorization with GAN" (ETH Zürich Deep Learning
project); reference code tstreule/c2f_img_color (``src/gan.py``, ``src/generator.py``, ``src/utils/*.py``,
``run_on_euler.sh``). Details the paper leaves open follow the reference code.

**Generator** (``generator = "dynamic_unet"``, the default): the paper's "U-Net with a pretrained ResNet18
backbone", which the reference builds with fastai's ``DynamicUnet`` on ``create_body(resnet18, n_in, cut=-2)``
with ``n_out=2`` and fastai's defaults (no self-attention, no blur, ``norm_type=None``, ``last_cross=True``,
``bottle=False``, ``y_range=None``: no output activation). :class:`colorbench.nets.dynamic_unet.DynamicUnet` is
that network on torchvision: 31,113,008 parameters on 3 input channels (L + the prior ab, C2F) and 31,099,672 on 1
(L, ``base``), the reference's counts. ``generator = "smp"`` keeps our earlier stand-in, segmentation-models-pytorch's
``Unet("resnet18", classes=2)`` (14,328,354 / 14,322,082 parameters: transposed-free nearest upsampling, a
BN-ReLU decoder, no middle block, no last cross), which inference pads to a multiple of 32. Discriminator: the
pix2pix 70×70 PatchGAN on ``concat(L, ab)`` (the reference's ``PatchDiscriminator(3, 64, 3)``, 2,765,633
parameters). Both networks are initialised as the reference's ``init_weights``: conv weights N(0, 0.02),
batch-norm weights N(1, 0.02) and biases 0, over the *whole* generator (where we differ: ``init_weights`` leaves
conv biases at fastai's values, all zero but the output conv's two, drawn from N(0, 0.01); ours are all zero).

**Pretrained encoder.** The paper says "a pretrained ResNet18 as backbone", and the reference asks fastai for
ImageNet weights (``create_body(..., pretrained=True)``), but then calls ``init_weights`` on the whole generator
(``PreTrainer.__init__``), which redraws every conv and batch norm of the encoder: the published runs were not
pretrained. Here ``pretrained`` (``auto``/``true``/``false``, see :mod:`colorbench.pretrained`) loads local
torchvision ResNet weights into the encoder *after* that initialisation (1 input channel: the RGB filters summed,
as fastai does), so ``auto`` uses them when they are on disk (recorded in :meth:`pretrained_flags`);
``pretrained = "false"`` is what the reference actually trained (the paper profile's setting).

**Recursion** (the reference's ``C2FImageGAN.forward``): from the input size, shrink by ``1/shrink_size``
(``int(side / shrink_size)``) while both sides of the smaller image stay ``>= min_ax_size`` and fewer than
``max_c2f_depth`` shrinks were made; the generator then runs once per level, coarsest first. The coarsest level's
prior is ab = 0; each level's prediction, upsampled bicubically, is the next level's prior and is *not* detached,
so the loss back-propagates through every level. L is shrunk level by level with bicubic interpolation
(antialiased: the reference's tensor ``Resize`` of its time did not antialias). :meth:`C2F.level_sizes` gives the
sizes. ``shrink_size``, ``max_c2f_depth`` and ``min_ax_size`` are read when ``colorize`` is called, so one trained
model can be run at the paper's Table 1 settings.

**Padded batches.** The reference trains on whole COCO images padded into a batch (``LabImageBatch``: bottom and
right, L = a = b = 0 normalised, a pad mask) and overwrites the prediction at padded pixels with 0 at every level,
so the L1 there is zero. A batch with ``"valid"`` (``[B,1,H,W]`` bool, True on image pixels; the ``crop = "pad"``
data option) is treated the same way; the mask is shrunk to each level by nearest neighbour (the reference's
bicubic resize of the boolean mask marks every pixel the interpolation touches, ~2 px more per level).

**Training** (the phase derives from ``step``): the first ``pretrain_epochs`` (25, the reference's
``pretrain-epoch=24`` checkpoint; ``pretrain_steps`` overrides it in steps) pretrain the generator with L1 on ab
alone (Adam 1e-4, β (0.9, 0.999)); C2F pretraining feeds L + zero ab at the crop's size, without recursion, as the
reference's ``PreTrainer``. Then GAN training (pix2pix, Isola et al. 2017): Adam 2e-4, β1 0.5 for both nets,
vanilla GAN (BCE on logits) + λ·L1 with λ = 100. The generator's adversarial target (``gan_target``) is "real" by
default, as pix2pix and the report's text; **the reference code that produced Table 1 uses "fake"**
(``src/gan.py``, the generator step's ``gan_criterion(D_net(fake_imgs), False)``), which rewards the generator for
being caught. The paper profile trains the published rows with ``gan_target = "fake"`` (the code's) and runs the
text's "real" as the variant ``paper_target``.
``intermediate_supervision``:

* ``"none"`` (the paper's runs): one step per batch, the L1 at full resolution;
* ``"steps"`` (variant ``intermediate``, the paper's proposed fix: "optimizer steps after each iteration instead of
  only one step at the end", §5): at every level, coarsest first, one generator step on that level's GAN + λ·L1
  against the ab shrunk alongside L, then one discriminator step at full resolution on the last prediction (the
  order of the reference's ``intermediate_supervision`` branch, whose training step never enables the per-level
  steps). The prior passed on is detached: after an optimiser step the previous level's graph is stale;
* ``"average"`` (variant ``intermediate_avg``, **our own reading**, not the paper's): one step whose L1 is the
  mean of every level's L1; the adversarial term stays at full resolution.

**Inference** (``inference_norm``): the paper runs the generator at inference "in exactly the same manner as
during the training phase". ``"batch"`` (default) normalises every batch norm with the statistics of the batch
being colourised, without updating the running buffers (:func:`colorbench.nets.blocks.batch_statistics`; the
reference's model, left in training mode, also updates them). Outputs then depend on the batch they are in; a
batch norm that sees one value per channel (one image at a level whose deepest map is 1×1, i.e. a side of at
most 32 px at depth 5) outputs its bias, where the reference's training-mode forward raises torch's error.
``"running"`` uses the running statistics (``eval()``), what Lightning's validation loop did in the reference. Not
reproduced: the reference's demo, loading a checkpoint and colourising without ``train()``/``eval()``, runs a mix
(fastai's construction leaves the encoder and the decoder blocks in eval mode, the batch norm after the encoder in
training mode).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from colorbench.nets.gan import gan_loss
from colorbench.method import Batch, Method
from colorbench.nets.init import init_normal_
from colorbench.nets.padding import crop_to, pad_to_multiple
from colorbench.nets.patchgan import PatchGAN
from colorbench.registry import register_method


@dataclass
class C2FConfig:
    """Paper / reference defaults (shrink 2, depth 5, min axis 64; 25 pretraining epochs, then the GAN)."""

    model: Literal["c2f", "base"] = "c2f"  # base: 1 input channel (L), no recursion
    generator: Literal["dynamic_unet", "smp"] = "dynamic_unet"  # the reference's fastai DynamicUnet, or smp's Unet
    encoder_name: str = "resnet18"  # torchvision / smp ResNet
    encoder_depth: int = 5  # downsamplings kept (5: through layer4, /32)
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)  # generator = "smp" only
    pretrained: Literal["auto", "true", "false"] = "auto"  # encoder weights, see the module docstring
    pretrained_path: str | None = None
    inference_norm: Literal["batch", "running"] = "batch"  # batch norms at inference, see the module docstring
    shrink_size: float = 2.0  # each coarser level is 1/shrink_size of the next (read at call time)
    max_c2f_depth: int = 5  # most shrinks (levels = shrinks + 1; read at call time)
    min_ax_size: int = 64  # no level with a side below this (read at call time)
    intermediate_supervision: Literal["none", "steps", "average"] = "none"
    pretrain_epochs: float = 25.0  # L1-only epochs before the GAN phase (the reference's run)
    pretrain_steps: int | None = None  # the same in steps; overrides pretrain_epochs when set
    pretrain_lr: float = 1e-4
    pretrain_betas: tuple[float, float] = (0.9, 0.999)
    lr: float = 2e-4  # GAN phase, generator and discriminator
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_l1: float = 100.0
    gan_target: Literal["real", "fake"] = "real"  # generator's adversarial target; the reference uses "fake"
    disc_width: int = 64
    disc_layers: int = 3
    image_size: int = 256  # training crop / pad canvas (the paper: whole COCO photos of up to 640 px)
    batch_size: int = 32  # the paper's (over 8 GPUs); the reference code's default is 16


_TABLE1 = ("the default model trained as the reference code (generator target 'fake': paper profile; the text's "
           "'real' is variant paper_target), run at ")


def c2f_level_sizes(
    height: int, width: int, shrink_size: float, max_c2f_depth: int, min_ax_size: int
) -> list[tuple[int, int]]:
    """The (H, W) of every level, coarsest first, the input's last (the reference's stopping rule)."""
    if shrink_size <= 1.0:
        raise ValueError(f"c2f: shrink_size must be > 1 (each level smaller than the next), got {shrink_size}")
    sizes = [(int(height), int(width))]
    while len(sizes) - 1 < max_c2f_depth:
        h, w = sizes[-1]
        smaller = (int(h / shrink_size), int(w / shrink_size))
        if min(smaller) < max(1, min_ax_size):
            break
        sizes.append(smaller)
    return sizes[::-1]


def shrink(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic, antialiased resize of ``[B,C,H,W]`` to ``size`` (downscaling)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def enlarge(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of ``[B,C,h,w]`` up to ``size`` (the prior of the next level)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False)


def pyramid(x: torch.Tensor, sizes: list[tuple[int, int]]) -> list[torch.Tensor]:
    """``x`` at every size of ``sizes`` (coarsest first, ``x``'s own last), each shrunk from the next finer."""
    levels = [x]
    for size in reversed(sizes[:-1]):
        levels.append(shrink(levels[-1], size))
    return levels[::-1]


def mask_pyramid(valid: torch.Tensor | None, sizes: list[tuple[int, int]]) -> list[torch.Tensor | None]:
    """``valid`` ``[B,1,H,W]`` bool at every size of ``sizes`` (nearest neighbour); Nones without a mask."""
    if valid is None:
        return [None] * len(sizes)
    return [valid if tuple(valid.shape[-2:]) == tuple(s) else
            F.interpolate(valid.float(), size=s, mode="nearest") > 0.5 for s in sizes]


class C2FGenerator(nn.Module):
    """The U-Net run over a pyramid in one ``forward`` (one call per step, so DDP sees one forward).

    ``forward(L_levels, valid_levels=None)``: ``[B,1,h_i,w_i]`` L/50-1 per level, coarsest first (and optional
    ``[B,1,h_i,w_i]`` bool masks of image pixels) -> the ab/110 prediction at every level (same sizes), 0 at
    padded pixels. With one input channel (base) the prior is not used.
    """

    def __init__(self, unet: nn.Module, in_channels: int, multiple: int) -> None:
        super().__init__()
        self.unet, self.in_channels, self.multiple = unet, in_channels, multiple

    def level(self, L: torch.Tensor, prior: torch.Tensor | None, valid: torch.Tensor | None = None) -> torch.Tensor:
        """One U-Net pass at any size: L ``[B,1,H,W]`` and the previous level's ab (None: zeros) -> ``[B,2,H,W]``."""
        if self.in_channels == 1:
            x = L
        else:
            size = tuple(L.shape[-2:])
            prior = enlarge(prior, size) if prior is not None else L.new_zeros(L.shape[0], 2, *size)
            x = torch.cat((L, prior.to(L.dtype)), dim=1)
        padded, size = pad_to_multiple(x, self.multiple)
        pred = crop_to(self.unet(padded), size)
        return pred if valid is None else pred.masked_fill(~valid, 0.0)

    def forward(self, L_levels: list[torch.Tensor],
                valid_levels: list[torch.Tensor | None] | None = None) -> list[torch.Tensor]:
        preds: list[torch.Tensor] = []
        for i, L in enumerate(L_levels):
            preds.append(self.level(L, preds[-1] if preds else None, valid_levels[i] if valid_levels else None))
        return preds


def build_unet(cfg: C2FConfig, in_channels: int) -> tuple[nn.Module, nn.Module, int]:
    """``(unet, its encoder, pad multiple)`` for ``cfg.generator``, weights not yet initialised."""
    if cfg.generator == "dynamic_unet":
        from colorbench.nets.dynamic_unet import DynamicUnet, resnet_encoder

        net = DynamicUnet(resnet_encoder(cfg.encoder_name, in_channels, cfg.encoder_depth), 2, in_channels)
        return net, net.encoder, 1
    if cfg.generator == "smp":
        import segmentation_models_pytorch as smp

        net = smp.Unet(encoder_name=cfg.encoder_name, encoder_weights=None, encoder_depth=cfg.encoder_depth,
                       decoder_channels=tuple(cfg.decoder_channels), in_channels=in_channels, classes=2,
                       activation=None)
        if cfg.encoder_name.startswith("resnet"):  # smp keeps the stages a shallow encoder never runs: drop them
            for k in range(max(cfg.encoder_depth, 1), 5):
                setattr(net.encoder, f"layer{k}", nn.Identity())
        return net, net.encoder, 2**cfg.encoder_depth
    raise ValueError(f"c2f: generator must be 'dynamic_unet' or 'smp', got {cfg.generator!r}")


@register_method(
    "c2f",
    description="Coarse-to-fine GAN: a ResNet18 U-Net re-run from coarse to fine, each level's ab the next's prior",
    source="Streule, Rüegg, Styger 2022, 'Iterative Coarse-to-Fine Image Colorization with GAN' (ETH Zürich); "
    "github.com/tstreule/c2f_img_color",
)
class C2F(Method):
    """See the module docstring. Variants: ``base`` (the paper's base model), ``intermediate`` (the paper's
    optimiser step per level), ``intermediate_avg`` (our averaged L1), ``smp`` (our earlier smp U-Net), and the
    Table 1 settings ``s<shrink>_d<depth>`` (which, as inference settings, can also be set on one trained model:
    ``model.config.shrink_size = 1.2`` or ``colorize(L, shrink_size=1.2)``)."""
    capture_note = ("its step reads its losses with .item() (the L1 of every level) and switches from L1 pretraining "
                    "to the GAN at a step")

    Config = C2FConfig
    variants = {
        "default": {},
        "base": {"model": "base"},
        "paper_target": {"gan_target": "real"},  # the text's target; the paper profile sets the code's "fake"
        "intermediate": {"intermediate_supervision": "steps"},
        "intermediate_avg": {"intermediate_supervision": "average"},
        "smp": {"generator": "smp"},
        "s1.2_d1": {"shrink_size": 1.2, "max_c2f_depth": 1},
        "s1.2_d10": {"shrink_size": 1.2, "max_c2f_depth": 10},
        "s2.0_d1": {"shrink_size": 2.0, "max_c2f_depth": 1},
        "s2.0_d10": {"shrink_size": 2.0, "max_c2f_depth": 10},
    }
    test_overrides = {"encoder_depth": 3, "decoder_channels": (32, 16, 8), "disc_width": 8, "disc_layers": 2,
                      "min_ax_size": 16, "pretrain_steps": 10, "pretrained": "false", "image_size": 32,
                      "batch_size": 4}
    watch_loss = "l1"
    # The C2F paper's Table 1: base, and the shrink size / depth settings, which act at inference only.
    runtime_variants = ("s1.2_d1", "s1.2_d10", "s2.0_d1", "s2.0_d10")
    runtime_reference = "base"
    backbones = ("resnet18",)
    published = {
        ("c2f", "base", ""): ("base", "the C2F paper's baseline: same generator, 1 input channel, no recursion; "
                                      "trained as the reference code (generator target 'fake': paper profile)"),
        ("c2f", "c2f", "shrink 1.2 / depth 1"): ("s1.2_d1", _TABLE1 + "shrink_size=1.2, max_c2f_depth=1"),
        ("c2f", "c2f", "shrink 1.2 / depth 10"): ("s1.2_d10", _TABLE1 + "shrink_size=1.2, max_c2f_depth=10"),
        ("c2f", "c2f", "shrink 2.0 / depth 1"): ("s2.0_d1", _TABLE1 + "shrink_size=2.0, max_c2f_depth=1"),
        ("c2f", "c2f", "shrink 2.0 / depth 10"): ("s2.0_d10", _TABLE1 + "shrink_size=2.0, max_c2f_depth=10"),
    }

    @classmethod
    def inference_kwargs(cls, variant: str) -> dict:
        """A Table 1 setting on one trained C2F model: its ``shrink_size`` and ``max_c2f_depth``."""
        declared = cls.variants.get(variant, {})
        return {k: declared[k] for k in ("shrink_size", "max_c2f_depth") if k in declared}

    def __init__(self, config: C2FConfig | None = None, num_classes: int | None = None) -> None:
        super().__init__(config, num_classes)
        cfg = self.config
        if cfg.model not in ("c2f", "base"):
            raise ValueError(f"c2f: model must be 'c2f' or 'base', got {cfg.model!r}")
        if cfg.inference_norm not in ("batch", "running"):
            raise ValueError(f"c2f: inference_norm must be 'batch' or 'running', got {cfg.inference_norm!r}")
        if cfg.intermediate_supervision not in ("none", "steps", "average"):
            raise ValueError(f"c2f: intermediate_supervision must be 'none', 'steps' or 'average', got "
                             f"{cfg.intermediate_supervision!r}")
        in_channels = 3 if cfg.model == "c2f" else 1
        unet, encoder, multiple = build_unet(cfg, in_channels)
        init_normal_(unet)  # the reference's init_weights over the whole generator
        self._loaded = False
        if cfg.pretrained != "false":
            from colorbench.pretrained import load_pretrained

            self._loaded = bool(load_pretrained(encoder, cfg.encoder_name, cfg.pretrained, cfg.pretrained_path))
        self.generator = C2FGenerator(unet, in_channels, multiple)
        self.discriminator = init_normal_(PatchGAN(3, cfg.disc_width, cfg.disc_layers, norm="batch"))
        self.opt_pre = torch.optim.Adam(self.generator.parameters(), lr=cfg.pretrain_lr,
                                        betas=tuple(cfg.pretrain_betas))
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))

    def pretrained_flags(self) -> dict[str, bool]:
        return {self.config.encoder_name: self._loaded}

    # ------------------------------------------------------------------------------------------- levels
    def level_sizes(self, height: int, width: int, *, shrink_size: float | None = None,
                    max_c2f_depth: int | None = None, min_ax_size: int | None = None) -> list[tuple[int, int]]:
        """The (H, W) of every generator pass for an ``height × width`` input, coarsest first, under the
        current config (or the given settings); ``base`` has one level."""
        cfg = self.config
        if cfg.model == "base":
            return [(int(height), int(width))]
        return c2f_level_sizes(height, width, cfg.shrink_size if shrink_size is None else shrink_size,
                               cfg.max_c2f_depth if max_c2f_depth is None else max_c2f_depth,
                               cfg.min_ax_size if min_ax_size is None else min_ax_size)

    def pretrain_length(self) -> int:
        """Steps of L1 pretraining: ``pretrain_steps``, else ``pretrain_epochs`` of the trainer's epochs."""
        cfg = self.config
        if cfg.pretrain_steps is not None:
            return int(cfg.pretrain_steps)
        return self.epoch_steps(cfg.pretrain_epochs, "pretrain_epochs")

    def phase_starts(self) -> tuple[int, ...]:
        """Step 0 (pretraining: one generator level, L1) and the first GAN step (every level, the discriminator)."""
        return (0, self.pretrain_length()) if self.pretrain_length() > 0 else (0,)

    def phase(self, step: int) -> str:
        """``"pretrain"`` (L1 only) or ``"gan"`` at global step ``step``."""
        return "pretrain" if step < self.pretrain_length() else "gan"

    # ------------------------------------------------------------------------------------------ training
    def _d_step(self, L: torch.Tensor, ab: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """One discriminator step: real pairs -> 1, generated pairs (detached) -> 0."""
        self.discriminator.requires_grad_(True)
        d_real = gan_loss("bce", self.discriminator(torch.cat((L, ab), dim=1)), True)
        d_fake = gan_loss("bce", self.discriminator(torch.cat((L, fake.detach()), dim=1)), False)
        d = 0.5 * (d_real + d_fake)
        self.opt_d.zero_grad(set_to_none=True)
        d.backward()
        self.opt_d.step()
        return {"d": d.item(), "d_real": d_real.item(), "d_fake": d_fake.item()}

    def _g_gan(self, L: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The generator's adversarial loss (target ``gan_target``), discriminator frozen."""
        self.discriminator.requires_grad_(False)
        return gan_loss("bce", self.discriminator(torch.cat((L, fake), dim=1)), self.config.gan_target == "real")

    def _g_step(self, loss: torch.Tensor) -> None:
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)

    def train_step(self, batch: Batch, step: int) -> dict[str, float]:
        L, ab, valid = batch["L"], batch["ab"], batch.get("valid")
        if self.phase(step) == "pretrain":
            pred = self.generator([L], [valid])[-1]  # one level; C2F sees L + zero ab
            l1 = F.l1_loss(pred.float(), ab.float())
            self.opt_pre.zero_grad(set_to_none=True)
            l1.backward()
            self.opt_pre.step()
            return {"loss": l1.item(), "l1": l1.item()}

        cfg = self.config
        if self.opt_pre.state:  # pretraining is over: its Adam moments (2× the generator) are dead weight
            self.opt_pre.state.clear()
        sizes = self.level_sizes(*L.shape[-2:])
        lab_levels = pyramid(torch.cat((L, ab), dim=1), sizes)
        valid_levels = mask_pyramid(valid, sizes)
        if cfg.intermediate_supervision == "steps":
            return self._step_per_level(L, ab, lab_levels, valid_levels)

        preds = self.generator([x[:, :1] for x in lab_levels], valid_levels)
        fake = preds[-1]
        d = self._d_step(L, ab, fake)
        g_gan = self._g_gan(L, fake)
        if cfg.intermediate_supervision == "average":
            l1 = torch.stack([F.l1_loss(p.float(), x[:, 1:].float()) for p, x in zip(preds, lab_levels)]).mean()
        else:
            l1 = F.l1_loss(fake.float(), ab.float())
        g = g_gan + cfg.lambda_l1 * l1
        self._g_step(g)
        return {"loss": g.item(), "l1": l1.item(), "g_gan": g_gan.item(), **d}

    def _step_per_level(self, L: torch.Tensor, ab: torch.Tensor, lab_levels: list[torch.Tensor],
                        valid_levels: list[torch.Tensor | None]) -> dict[str, float]:
        """The paper's intermediate supervision: a generator step per level, then a discriminator step.

        Returns the full-resolution level's losses (``loss``, ``l1``, ``g_gan``), ``l1_levels`` (the mean L1 over
        levels) and the discriminator's."""
        prior, l1s = None, []
        for x, valid in zip(lab_levels, valid_levels):
            L_i, ab_i = x[:, :1], x[:, 1:]
            pred = self.generator.level(L_i, prior, valid)
            g_gan = self._g_gan(L_i, pred)
            l1 = F.l1_loss(pred.float(), ab_i.float())
            g = g_gan + self.config.lambda_l1 * l1
            self._g_step(g)
            l1s.append(l1.item())
            prior = pred.detach()  # the weights just changed: the next level learns from this prior as a value
        d = self._d_step(L, ab, prior)
        return {"loss": g.item(), "l1": l1s[-1], "g_gan": g_gan.item(), "l1_levels": sum(l1s) / len(l1s), **d}

    # --------------------------------------------------------------------------------------------- infer
    def predict(self, L: torch.Tensor, *, shrink_size: float | None = None, max_c2f_depth: int | None = None,
                 min_ax_size: int | None = None) -> torch.Tensor:
        """``[B,1,H,W]`` L/50-1 -> ``[B,2,H,W]`` ab/110, running the levels the config (read now) or the given
        settings give for this H×W. Batch norms normalise as :attr:`inference_norm` says (``Method.colorize``
        applies it; running buffers unchanged either way)."""
        sizes = self.level_sizes(*L.shape[-2:], shrink_size=shrink_size, max_c2f_depth=max_c2f_depth,
                                 min_ax_size=min_ax_size)
        return self.generator(pyramid(L, sizes))[-1].to(L.dtype)

    @property
    def inference_norm(self) -> str:  # the contract's declaration, read from the config (module docstring)
        return self.config.inference_norm
