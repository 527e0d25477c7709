"""Pretrained backbones: a table of known weights, a local-only lookup, and a loader that maps state dicts.

The lookup never touches the network. It looks, in order, at

1. an explicit ``path`` (a ``.pth``/``.pt``/``.bin`` torch file or a ``.safetensors`` file);
2. the torch hub cache, ``torch.hub.get_dir()/checkpoints/<file>`` (``$TORCH_HOME/hub/checkpoints``, default
   ``~/.cache/torch/hub/checkpoints``) — where torchvision's ``weights=`` downloads land;
3. the Hugging Face cache used by timm and segmentation-models-pytorch,
   ``<hf cache>/models--<org>--<name>/snapshots/<revision>/<file>`` (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``,
   else ``~/.cache/huggingface/hub``), read from disk only.

Models are always built *without* weights (torchvision ``weights=None``, timm ``pretrained=False``, smp
``encoder_weights=None``: smp's ``"imagenet"`` spends ~23 s retrying offline) and filled by :func:`load_pretrained`.
``colorbench weights fetch`` (:func:`fetch`) is the only code that downloads, into the same caches.

Mapping a file onto a module: the module's own keys are looked up in the file under a common prefix (``""``,
``"features."``, ``"encoder."``, ``"module."``, ``"model."``), so a truncated ``vgg16().features[:16]`` or an smp
encoder (a torchvision ResNet without ``fc``) loads from the full torchvision file; keys the module lacks (``fc.*``)
are ignored; every key the module has must be found with the same shape (``num_batches_tracked`` excepted). A first
conv whose input channels differ from the file's 3 is adapted as timm does (sum for 1 channel, repeat and rescale
otherwise). timm files are passed through the model's ``checkpoint_filter_fn`` when its module has one.

Released colourisers (the *zoo*, the block at the end): a method declares them beside its code (``Method.zoo``:
:class:`ZooEntry` by entry name) and this module finds them through the registry. A zoo name ``METHOD:ENTRY``
loads the method with the entry's config and the released file (torch hub cache, local only) mapped by the entry's
key prefixes (:func:`map_released`, every tensor accounted for); the file's sha256 is checked against the
publisher's or the one recorded beside it on first use.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from colorbench.errors import UserError

if TYPE_CHECKING:  # torch is imported where it is used, so `colorbench weights --help` stays fast
    import torch
    from torch import nn

PretrainedMode = Literal["auto", "true", "false"]


@dataclass(frozen=True)
class Backbone:
    """One set of pretrained weights and where it may lie on disk.

    ``torch_files``: file names in the torch hub checkpoint folder; ``url``: where ``weights fetch`` gets the first
    of them; ``sha256``: its digest when known (checked on download and by :func:`verify`; otherwise the digest
    of the first download is recorded in ``<file>.sha256`` and checked afterwards). ``hf_repo``/``hf_file``/
    ``hf_revision``: the Hugging Face repository (timm, smp) and file in it.
    """

    name: str
    library: str  # "torchvision" | "timm" | "smp"
    description: str
    torch_files: tuple[str, ...] = ()
    url: str | None = None
    hf_repo: str | None = None
    hf_file: str = "model.safetensors"
    hf_revision: str | None = None
    build: str = ""  # how to build the matching module, for messages and docs
    extra_hf: tuple[tuple[str, str], ...] = field(default=())  # other (repo, file) pairs that also fit
    sha256: str = ""  # the full digest when known; else `weights fetch` records it beside the file (.sha256)
    licence: str = ""


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone(
            "resnet18", "torchvision", "ResNet-18, ImageNet-1k (torchvision IMAGENET1K_V1 / smp-hub)",
            torch_files=("resnet18-f37072fd.pth",), url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
            hf_repo="smp-hub/resnet18.imagenet", hf_revision="3f2325ff978283d47aa6a1d6878ca20565622683",
            build="torchvision.models.resnet18(weights=None) or smp encoder 'resnet18' with encoder_weights=None",
        ),
        Backbone(
            "resnet34", "smp", "ResNet-34, ImageNet-1k: smp's default encoder for Unet/FPN",
            torch_files=("resnet34-b627a593.pth",), url="https://download.pytorch.org/models/resnet34-b627a593.pth",
            hf_repo="smp-hub/resnet34.imagenet", hf_revision="7a57b34f723329ff020b3f8bc41771163c519d0c",
            build="smp.Unet/FPN('resnet34', encoder_weights=None).encoder or torchvision.models.resnet34(weights=None)",
        ),
        Backbone(
            "resnet50", "torchvision", "ResNet-50, ImageNet-1k (torchvision IMAGENET1K_V1)",
            torch_files=("resnet50-0676ba61.pth",), url="https://download.pytorch.org/models/resnet50-0676ba61.pth",
            hf_repo="smp-hub/resnet50.imagenet", hf_revision="00cb74e366966d59cd9a35af57e618af9f88efe9",
            build="torchvision.models.resnet50(weights=None)",
        ),
        Backbone(
            "vgg16", "torchvision", "VGG-16 (no BN), ImageNet-1k (torchvision IMAGENET1K_V1)",
            torch_files=("vgg16-397923af.pth",), url="https://download.pytorch.org/models/vgg16-397923af.pth",
            build="torchvision.models.vgg16(weights=None) (or its .features[:k])",
        ),
        Backbone(
            "inception_resnet_v2", "timm", "Inception-ResNet-v2, ImageNet-1k (timm tf_in1k)",
            hf_repo="timm/inception_resnet_v2.tf_in1k",
            build="timm.create_model('inception_resnet_v2', pretrained=False)",
        ),
        Backbone(
            "inception_v3", "timm", "Inception-v3, ImageNet-1k (timm tv_in1k = torchvision's)",
            torch_files=("inception_v3_google-0cc3c7bd.pth", "inception_v3_google-1a9a5a14.pth"),
            url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
            hf_repo="timm/inception_v3.tv_in1k",
            build="timm.create_model('inception_v3', pretrained=False)",
        ),
        Backbone(
            "alexnet", "torchvision", "AlexNet, ImageNet-1k (torchvision IMAGENET1K_V1): the LPIPS alex backbone",
            torch_files=("alexnet-owt-7be5be79.pth",), url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            build="torchvision.models.alexnet(weights=None).features", licence="BSD-3-Clause (torchvision)",
        ),
        Backbone(
            "inception_fid", "torch", "the FID Inception: TF Inception graph 2015-12-05 ported by mseitzer/pytorch-fid",
            torch_files=("pt_inception-2015-12-05-6726825d.pth",),
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                "pt_inception-2015-12-05-6726825d.pth",
            build="colorbench.nets.inception.fid_inception()", licence="Apache-2.0 (TensorFlow models; pytorch-fid)",
        ),
        Backbone(
            "lpips_alex_heads", "torch", "LPIPS v0.1 linear heads for AlexNet (lpips 0.1.4 weights/v0.1/alex.pth)",
            torch_files=("lpips_v0.1_alex.pth",),
            url="https://raw.githubusercontent.com/richzhang/PerceptualSimilarity/master/lpips/weights/v0.1/alex.pth",
            sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
            build="colorbench.nets.lpips.LPIPS('alex').heads", licence="BSD-2-Clause (richzhang/PerceptualSimilarity)",
        ),
        Backbone(
            "lpips_vgg_heads", "torch", "LPIPS v0.1 linear heads for VGG-16 (lpips 0.1.4 weights/v0.1/vgg.pth)",
            torch_files=("lpips_v0.1_vgg.pth",),
            url="https://raw.githubusercontent.com/richzhang/PerceptualSimilarity/master/lpips/weights/v0.1/vgg.pth",
            sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
            build="colorbench.nets.lpips.LPIPS('vgg').heads", licence="BSD-2-Clause (richzhang/PerceptualSimilarity)",
        ),
        Backbone(
            "convnext_tiny", "timm", "ConvNeXt-T, ImageNet-1k (timm fb_in1k)",
            hf_repo="timm/convnext_tiny.fb_in1k", torch_files=("convnext_tiny_1k_224_ema.pth",),
            build="timm.create_model('convnext_tiny', pretrained=False)",
        ),
        Backbone(
            "convnext_tiny_22k", "timm",
            "ConvNeXt-T, ImageNet-22k (timm fb_in22k = FB convnext_tiny_22k_224): DDColor-T",
            hf_repo="timm/convnext_tiny.fb_in22k", torch_files=("convnext_tiny_22k_224.pth",),
            url="https://dl.fbaipublicfiles.com/convnext/convnext_tiny_22k_224.pth",
            build="colorbench.nets.convnext_stages.ConvNeXtStages(depths, dims).body (a timm ConvNeXt)",
        ),
        Backbone(
            "convnext_large_22k", "timm", "ConvNeXt-L, ImageNet-22k (timm fb_in22k = FB convnext_large_22k_224): "
            "DDColor-L",
            hf_repo="timm/convnext_large.fb_in22k", torch_files=("convnext_large_22k_224.pth",),
            url="https://dl.fbaipublicfiles.com/convnext/convnext_large_22k_224.pth",
            build="colorbench.nets.convnext_stages.ConvNeXtStages(depths, dims).body (a timm ConvNeXt)",
        ),
        Backbone(
            "vgg16_bn", "torchvision", "VGG-16 with batch norm, ImageNet-1k (torchvision IMAGENET1K_V1)",
            torch_files=("vgg16_bn-6c64b313.pth",), url="https://download.pytorch.org/models/vgg16_bn-6c64b313.pth",
            build="torchvision.models.vgg16_bn(weights=None) (or its .features[:k])",
        ),
    )
}

_WARNED: set[str] = set()
_PREFIXES = ("", "features.", "encoder.", "module.", "model.", "backbone.")


# ------------------------------------------------------------------------------------------------ lookup
def used_by(name: str) -> list[str]:
    """The registered methods that declare backbone ``name`` (``Method.backbones``), then the metrics that need it
    (``metric <name>``)."""
    from colorbench.metrics.table import METRICS
    from colorbench.registry import get_method, list_methods

    return ([m for m in list_methods() if name in get_method(m).backbones]
            + [f"metric {m.name}" for m in METRICS.values() if name in m.weights])


def sha256_of(path: Path) -> str:
    """The sha256 hex digest of a file (read in 1 MiB pieces)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(name: str, path: Path) -> None:
    """Check ``path`` against backbone ``name``'s known sha256, or the one recorded beside it on its first download
    (``<file>.sha256``); nothing to check passes. A mismatch raises :class:`UserError` (delete and fetch again)."""
    b = get_backbone(name)
    record = path.with_name(path.name + ".sha256")
    expected = b.sha256 or (record.read_text().split()[0] if record.is_file() else "")
    if not expected:
        return
    got = sha256_of(path)
    if got != expected:
        raise UserError(f"weights {path} for {name!r}: sha256 {got[:12]}… is not the expected {expected[:12]}…; "
                        f"the file is corrupt or another file: delete it and run `colorbench weights fetch {name}`")


def get_backbone(name: str) -> Backbone:
    """The table entry for ``name``; an unknown name raises :class:`UserError` listing the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(BACKBONES), n=2)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UserError(f"unknown pretrained backbone {name!r}.{hint} Known: {', '.join(BACKBONES)}") from None


def torch_hub_dir() -> Path:
    """``$TORCH_HOME/hub/checkpoints`` (read from the environment at each call)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ``$XDG_CACHE_HOME/huggingface/hub``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def _hf_candidates(repo: str, filename: str, revision: str | None) -> list[Path]:
    """Files that would satisfy ``repo``/``filename`` in the HF cache, pinned revision or ``refs/main`` first."""
    root = hf_cache_dir() / f"models--{repo.replace('/', '--')}"
    snapshots = root / "snapshots"
    revs: list[str] = []
    if revision:
        revs.append(revision)
    ref = root / "refs" / "main"
    if ref.is_file():
        revs.append(ref.read_text().strip())
    paths = [snapshots / r / filename for r in revs]
    if snapshots.is_dir():  # any other snapshot of the same repository
        paths += sorted(p for p in snapshots.glob(f"*/{filename}") if p not in paths)
    return paths


def expected_paths(name: str) -> list[Path]:
    """Where ``name``'s weights are looked for, in order (the first is where ``weights fetch`` puts them)."""
    b = get_backbone(name)
    paths = [torch_hub_dir() / f for f in b.torch_files]
    if b.hf_repo:
        rev = b.hf_revision or "<revision>"
        hf = hf_cache_dir() / f"models--{b.hf_repo.replace('/', '--')}" / "snapshots" / rev / b.hf_file
        paths.insert(0, hf) if b.library == "timm" else paths.append(hf)
    return paths


def resolve_weights(name: str, path: str | os.PathLike | None = None) -> Path | None:
    """The weights file for backbone ``name`` on disk, or None. An explicit ``path`` that is missing raises."""
    b = get_backbone(name)
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise UserError(f"pretrained weights for {name!r}: {p} does not exist; give an existing file or leave "
                            f"the path unset to use the caches ({', '.join(map(str, expected_paths(name)))})")
        return p
    candidates: list[Path] = []
    hf: list[Path] = []
    if b.hf_repo:
        hf = _hf_candidates(b.hf_repo, b.hf_file, b.hf_revision)
    torch_paths = [torch_hub_dir() / f for f in b.torch_files]
    candidates = hf + torch_paths if b.library == "timm" else torch_paths + hf
    for repo, fname in b.extra_hf:
        candidates += _hf_candidates(repo, fname, None)
    return next((p for p in candidates if p.is_file()), None)


# ------------------------------------------------------------------------------------------------ loading
def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` or torch file (``weights_only``), unwrapping ``state_dict``/``model`` keys."""
    import torch

    if path.suffix == ".safetensors":
        from colorbench.checkpoint import BadTensorFile, read_safetensors

        try:
            return read_safetensors(path)
        except (BadTensorFile, OSError) as exc:
            raise UserError(f"could not read pretrained weights {path} ({exc}); the file is corrupt or truncated: "
                            "delete it and run `colorbench weights fetch`, or pass a valid file") from None
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UserError(f"could not read pretrained weights {path}: {exc}; delete it and run "
                        "`colorbench weights fetch`, or pass a valid file") from None
    for key in ("state_dict", "model", "state_dict_ema", "params"):  # "params": basicsr's checkpoints
        if isinstance(sd, dict) and key in sd and isinstance(sd[key], dict):
            sd = sd[key]
            break
    if not isinstance(sd, dict):
        raise UserError(f"{path} holds a {type(sd).__name__}, not a state dict of tensors")
    return {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}


def _timm_filter(module: nn.Module, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    import sys

    filter_fn = getattr(sys.modules.get(type(module).__module__), "checkpoint_filter_fn", None)
    if filter_fn is None:
        return sd
    try:
        return filter_fn(sd, module)
    except Exception:  # already in timm's layout
        return sd


def map_state_dict(module: nn.Module, sd: dict[str, torch.Tensor], source: str = "file") -> dict[str, torch.Tensor]:
    """``sd`` re-keyed (and first-conv-adapted) to ``module.state_dict()``'s keys; raises if anything is missing."""
    own = module.state_dict()
    required = [k for k in own if not k.endswith("num_batches_tracked")]
    best: tuple[int, str] = (-1, "")
    for prefix in _PREFIXES:
        hits = sum(prefix + k in sd for k in required)
        if hits > best[0]:
            best = (hits, prefix)
    hits, prefix = best
    missing = [k for k in required if prefix + k not in sd]
    if missing:
        raise UserError(
            f"pretrained {source} does not fit {type(module).__name__}: {len(missing)} of {len(required)} "
            f"tensors missing (first: {', '.join(missing[:3])}); it holds e.g. {', '.join(list(sd)[:3])}. "
            "Pass the file made for this backbone."
        )
    out: dict[str, torch.Tensor] = {}
    for k in required:
        v = sd[prefix + k]
        if v.shape != own[k].shape:
            if v.ndim == 4 and v.shape[0] == own[k].shape[0] and v.shape[2:] == own[k].shape[2:]:
                from timm.models import adapt_input_conv

                v = adapt_input_conv(own[k].shape[1], v, base_chans=v.shape[1])  # first conv, other input width
            else:
                raise UserError(f"pretrained {source}: tensor {prefix + k} has shape {tuple(v.shape)}, the module "
                                f"expects {tuple(own[k].shape)}; build the module as the backbone table says")
        out[k] = v.to(own[k].dtype)
    return out


def load_pretrained(
    module: nn.Module,
    backbone: str,
    pretrained: str | bool = "auto",
    path: str | os.PathLike | None = None,
) -> bool:
    """Load local ``backbone`` weights into ``module``; True if loaded. Never touches the network.

    ``pretrained``: ``"auto"`` loads when found, else warns once (naming ``colorbench weights fetch``) and returns
    False, leaving ``module`` as initialised; ``"true"`` raises :class:`UserError` naming the expected file(s);
    ``"false"`` returns False at once. ``path``: an explicit weights file, checked before the caches.
    """
    mode = str(pretrained).lower()
    if mode not in ("auto", "true", "false"):
        raise UserError(f"pretrained={pretrained!r}: must be auto, true or false")
    b = get_backbone(backbone)
    if mode == "false":
        return False
    found = resolve_weights(backbone, path)
    if found is None:
        where = " or ".join(map(str, expected_paths(backbone)))
        if mode == "true":
            raise UserError(
                f"pretrained weights for {backbone!r} not found (pretrained=true); expected {where}; "
                f"run `colorbench weights fetch {backbone}` on a machine with a network and copy the file there, "
                f"or pass its path, or set pretrained=auto/false to train from random initialisation"
            )
        if backbone not in _WARNED:
            _WARNED.add(backbone)
            warnings.warn(
                f"colorbench: no pretrained weights for {backbone!r} ({b.description}) on disk; using random "
                f"initialisation (recorded as pretrained=false). Run `colorbench weights fetch {backbone}` or put "
                f"the file at {expected_paths(backbone)[0]}",
                stacklevel=2,
            )
        return False
    sd = read_state_dict(found)
    if b.library == "timm":
        sd = _timm_filter(module, sd)
    module.load_state_dict(map_state_dict(module, sd, source=str(found)), strict=False)
    return True


def reset_warnings() -> None:
    """Forget which backbones were warned about (tests)."""
    _WARNED.clear()


# ================================================================================================ zoo
# Released colourisers, evaluated without training. Each entry lives beside its method (``Method.zoo``, in the
# method's file); this block only reads them through the registry. A zoo name is ``METHOD:ENTRY`` (``cic:eccv16``).
@dataclass(frozen=True)
class ZooEntry:
    """One released model that a registered method's network loads as published.

    ``file``: its name in the torch hub checkpoint folder (where ``weights fetch`` puts it); ``url``: where it is
    downloaded from; ``sha256``: the full hash when the publisher gives it, else None (recorded beside the file on
    first use, ``<file>.sha256``, and checked on every later load). ``config``: the method's config overrides that
    make its network the released one (``variant`` first). ``target``: the method's attribute the weights load
    into. ``keymap``: ``(released prefix, our prefix)`` pairs, the first that matches a key renames it;
    ``ignore``: released key prefixes that are dropped (fixed layers the method computes itself). ``published``:
    the ``(source, method, variant)`` keys of the rows of ``colorbench/reference/published.csv`` this release
    should reproduce (the figures live in that one file). ``check``: given the released state dict, the reason it
    is not the model the wrapper assumes (e.g. an ignored fixed layer that differs from what the method computes),
    or None. ``mapper``: for a release whose names do not map by prefix, the method's own renaming, given the
    target module and the released state dict (less ``ignore``) and returning it under the module's names; it
    replaces ``keymap`` and must refuse a tensor it cannot place (:class:`UserError`).
    """

    method: str
    entry: str
    description: str
    url: str
    file: str
    licence: str
    source: str
    sha256: str | None = None
    variant: str = "default"
    config: tuple[tuple[str, object], ...] = ()
    target: str = "net"
    keymap: tuple[tuple[str, str], ...] = (("", ""),)
    ignore: tuple[str, ...] = ()
    published: tuple[tuple[str, str, str], ...] = ()  # (source, method, variant) rows of reference/published.csv
    check: Callable[[dict[str, torch.Tensor]], str | None] | None = None  # released sd -> why it is not this model
    mapper: Callable[[nn.Module, dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None  # replaces keymap

    @property
    def name(self) -> str:
        return f"{self.method}:{self.entry}"


def zoo_entries() -> dict[str, ZooEntry]:
    """Every registered method's released models, by zoo name (``METHOD:ENTRY``), sorted."""
    from colorbench.registry import get_method, list_methods

    out: dict[str, ZooEntry] = {}
    for m in list_methods():
        for key, entry in (getattr(get_method(m), "zoo", None) or {}).items():
            out[f"{m}:{key}"] = entry
    return dict(sorted(out.items()))


def is_zoo_name(name: str | os.PathLike) -> bool:
    """Whether ``name`` has the form of a zoo name (``METHOD:ENTRY``, no path separator) and is not a path on disk."""
    text = str(name)
    head, sep, tail = text.partition(":")
    return bool(sep and head and tail and "/" not in text and "\\" not in text and len(head) > 1
                and not Path(text).exists())


def get_zoo(name: str) -> ZooEntry:
    """The zoo entry called ``name``; an unknown one is a :class:`UserError` naming the known ones."""
    entries = zoo_entries()
    try:
        return entries[name]
    except KeyError:
        from colorbench.errors import unknown_name

        raise unknown_name("released model", name, list(entries)) from None


def zoo_path(name: str) -> Path:
    """Where ``name``'s released file is looked for (and where ``weights fetch`` puts it)."""
    return torch_hub_dir() / get_zoo(name).file


def checked_sha256(entry: ZooEntry, path: Path) -> str:
    """``path``'s sha256, checked against the entry's (or the one recorded beside the file on first use, which this
    writes when neither exists); a mismatch is a :class:`UserError`."""
    got = sha256_of(path)
    record = path.with_name(path.name + ".sha256")
    want = entry.sha256 or (record.read_text().split()[0] if record.is_file() else None)
    if want is None:
        from colorbench import _atomic as atomic

        atomic.write_text(record, f"{got}  {path.name}\n")
    elif got != want:
        raise UserError(f"{path}: sha256 {got[:12]}… is not the {entry.name} file's {want[:12]}… (recorded "
                        f"{'by its publisher' if entry.sha256 else 'in ' + str(record)}); the file is corrupt or "
                        f"another one: delete it and run `colorbench weights fetch {entry.name}`")
    return got


def map_released(entry: ZooEntry, module: nn.Module, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The released state dict ``sd`` renamed by ``entry.keymap`` onto ``module``'s keys (``ignore`` dropped);
    every key of ``module`` must be found with its shape, and no released key may be left over. An entry with a
    ``mapper`` is renamed by it instead of ``keymap``."""
    own = module.state_dict()
    kept = {k: v for k, v in sd.items() if not any(k.startswith(p) for p in entry.ignore)}
    if entry.mapper is not None:
        try:
            out = dict(entry.mapper(module, kept))
        except UserError as exc:
            raise UserError(f"{entry.name}: {exc}; pass the {entry.name} release") from None
        unused = [k for k in out if k not in own]
    else:
        out, unused = _map_by_prefix(entry, own, kept)
    missing = [k for k in own if k not in out and not k.endswith("num_batches_tracked")]
    if missing or unused:
        raise UserError(f"{entry.name}: the file does not fit the network ({len(missing)} tensors missing, first "
                        f"{', '.join(missing[:3]) or '-'}; {len(unused)} released tensors unused, first "
                        f"{', '.join(unused[:3]) or '-'}); pass the {entry.name} release")
    for k in own:
        if k.endswith("num_batches_tracked") and k not in out:
            out[k] = own[k]
    return out


def _map_by_prefix(entry: ZooEntry, own: dict[str, torch.Tensor],
                   sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``sd`` renamed by ``entry.keymap``'s prefixes onto the keys of ``own`` (cast to their dtypes), and the
    released keys that found no place; a shape that does not fit is a :class:`UserError`."""
    out: dict[str, torch.Tensor] = {}
    unused: list[str] = []
    for key, value in sd.items():
        new = next((ours + key[len(theirs):] for theirs, ours in entry.keymap if key.startswith(theirs)), None)
        if new is None or new not in own:
            unused.append(key)
            continue
        if tuple(value.shape) != tuple(own[new].shape):
            raise UserError(f"{entry.name}: released tensor {key} has shape {tuple(value.shape)}, {new} expects "
                            f"{tuple(own[new].shape)}; the file is not the {entry.name} release")
        out[new] = value.to(own[new].dtype)
    return out, unused


def load_zoo(name: str, map_location: str | torch.device = "cpu") -> nn.Module:
    """Build the method of zoo entry ``name`` with its released weights (local only), in ``eval()`` mode.

    The method gets ``zoo_name`` and ``weights_sha256`` attributes. A missing file is a one-line
    :class:`UserError` naming the path and the fetch command; non-finite weights are refused."""
    from colorbench.registry import create_method
    from colorbench.train.finite import weights_finite

    entry = get_zoo(name)
    path = zoo_path(name)
    if not path.is_file():
        raise UserError(f"released weights for {name} are not on disk (expected {path}); run `colorbench weights "
                        f"fetch {name}` on a machine with a network and copy the file there")
    sha = checked_sha256(entry, path)
    method = create_method(entry.method, variant=entry.variant, **dict(entry.config))
    target = getattr(method, entry.target)
    released = read_state_dict(path)
    problem = entry.check(released) if entry.check else None
    if problem:
        raise UserError(f"{path}: {problem}; it is not the {name} release: delete it and run `colorbench weights "
                        f"fetch {name}`")
    target.load_state_dict(map_released(entry, target, released), strict=True)
    if not weights_finite(method):
        raise UserError(f"{path} holds non-finite weights (NaN or infinite); delete it and run "
                        f"`colorbench weights fetch {name}`")
    method.zoo_name, method.weights_sha256 = name, sha
    return method.to(map_location).eval()


def zoo_eval_dir(name: str) -> Path:
    """Where ``eval``/``compare`` keep a zoo model's rows (its ``eval.csv``): ``runs/zoo/METHOD-ENTRY``."""
    return Path("runs") / "zoo" / name.replace(":", "-")


def zoo_record(name: str, sha256: str) -> dict[str, object]:
    """What a run folder's ``config.json`` would say, for a zoo model: method, variant (``zoo:ENTRY``), seed 0,
    no training step, and the weights' hash (which keys its rows)."""
    entry = get_zoo(name)
    return {"method": entry.method, "variant": f"zoo:{entry.entry}", "seed": 0, "step": None,
            "pretrained": f"sha256:{sha256}", "checkpoint": name}
