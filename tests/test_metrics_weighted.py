"""The weighted metrics against their reference implementations, offline: every network is built with random
weights, written where colorbench looks for its files, and the same weights are fed to the reference packages
(mseitzer/pytorch-fid, torchmetrics, the ``lpips`` package, torchvision), which are test extras only."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pytorch_fid")
lpips_pkg = pytest.importorskip("lpips")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

from colorbench.metrics import fid as fidmod  # noqa: E402
from colorbench.metrics import lpips as lpipsmod  # noqa: E402
from colorbench.metrics.fid import FeatureStats, frechet_distance, frechet_from_stats  # noqa: E402
from colorbench.nets.inception import fid_inception, tv_inception  # noqa: E402
from colorbench.nets.lpips import LPIPS  # noqa: E402


def random_state(module: torch.nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights that keep activations of order 1 (He-scaled convolutions, BatchNorm near identity)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in module.state_dict().items():
        if not v.is_floating_point():
            out[k] = v
        elif k.endswith("running_var") or (v.ndim == 1 and k.endswith("weight")):
            out[k] = 0.5 + torch.rand(v.shape, generator=g)
        elif v.ndim == 1:
            out[k] = 0.1 * torch.randn(v.shape, generator=g)
        else:
            out[k] = torch.randn(v.shape, generator=g) * math.sqrt(2.0 / v[0].numel())
    return out


def _pytorch_fid_net(sd: dict[str, torch.Tensor], monkeypatch) -> torch.nn.Module:
    import pytorch_fid.inception as pi

    full = {**sd, "fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}
    monkeypatch.setattr(pi, "load_state_dict_from_url", lambda *a, **k: full)  # no download: our random weights
    return pi.InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True).eval()


def _ddcolor_tv_features(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """torchvision's Inception-v3 fed as DDColor's custom_fid.py feeds it (written from that file)."""
    import torch.nn.functional as F
    import torchvision

    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    net.load_state_dict(sd, strict=False)
    net.fc = torch.nn.Identity()
    x = F.interpolate(x, size=(299, 299), mode="bilinear").clone()
    x = x * 0.5 + 0.5
    x[:, 0] = x[:, 0] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
    x[:, 1] = x[:, 1] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
    x[:, 2] = x[:, 2] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
    return net.eval()(x)


def _lpips_backbone_state(ref: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The ``lpips`` package's random backbone as torchvision ``features.<i>`` keys (its slices keep the indices)."""
    out = {}
    for i in range(1, 6):
        for k, v in getattr(ref.net, f"slice{i}").state_dict().items():
            out[f"features.{k}"] = v
    return out


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """Empty weight caches under tmp_path; returns the torch hub checkpoint folder."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    fidmod.clear_cache()
    lpipsmod._BUILT.clear()
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    yield folder
    fidmod.clear_cache()
    lpipsmod._BUILT.clear()


def _heads_file(net: str) -> Path:
    return Path(lpips_pkg.__file__).parent / "weights" / "v0.1" / f"{net}.pth"


# ------------------------------------------------------------------------------------------ Fréchet distance
def _spd(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_frechet_distance_equals_scipy_torchmetrics_and_the_closed_form():
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torchmetrics.image.fid import _compute_fid

    rng = np.random.default_rng(0)
    mu1, mu2, s1, s2 = rng.normal(size=48), rng.normal(size=48), _spd(48, rng), _spd(48, rng)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(calculate_frechet_distance(mu1, s1, mu2, s2), rel=1e-9)  # scipy.linalg.sqrtm
    tm = _compute_fid(*(torch.from_numpy(x) for x in (mu1, s1, mu2, s2)))
    assert ours == pytest.approx(float(tm), rel=1e-7)
    # diagonal covariances: sum (sqrt(a) - sqrt(b))² in closed form
    a, b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    closed = float(np.sum((mu1[:16] - mu2[:16]) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    assert frechet_distance(mu1[:16], np.diag(a), mu2[:16], np.diag(b)) == pytest.approx(closed, rel=1e-12)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_feature_statistics_both_routes_equal_numpy():
    """Fewer images than dimensions: the nuclear-norm route; more: eigh on the covariances; both = numpy/scipy."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(1)
    for n in (12, 80):
        x, y = rng.normal(size=(n, 40)), rng.normal(size=(n + 3, 40)) * 1.3 + 0.2
        a, b = FeatureStats(40), FeatureStats(40)
        for part in np.array_split(x, 3):
            a.add(torch.from_numpy(part).float())
        b.add(torch.from_numpy(y).float())
        xf, yf = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(a.cov(), np.cov(xf, rowvar=False), atol=1e-10)
        assert (a.centred() is None) == (n > 40)
        ref = calculate_frechet_distance(xf.mean(0), np.cov(xf, rowvar=False), yf.mean(0), np.cov(yf, rowvar=False))
        assert frechet_from_stats(a, b) == pytest.approx(ref, rel=1e-7)


def test_frechet_guard_rejects_a_non_covariance():
    bad = np.diag([1.0, -0.5, 2.0])
    with pytest.raises(ValueError, match="eigenvalue"):
        frechet_distance(np.zeros(3), bad, np.zeros(3), np.eye(3))
    tiny = np.diag([1.0, -1e-12, 2.0])  # round-off below zero is clamped
    assert math.isfinite(frechet_distance(np.zeros(3), tiny, np.zeros(3), np.eye(3)))


# ------------------------------------------------------------------------------------------ extractors
def test_fid_inception_equals_pytorch_fid(monkeypatch):
    ours = fid_inception()
    sd = random_state(ours.net)
    ours.net.load_state_dict(sd, strict=False)
    x = torch.rand(2, 3, 80, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, ref = ours(x), _pytorch_fid_net(sd, monkeypatch)(x)[0].flatten(1)
    assert got.shape == (2, 2048) and float(got.std()) > 0.01
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_tv_inception_equals_torchvision_as_the_papers_feed_it():
    ours = tv_inception()
    sd = random_state(ours.net, seed=1)
    ours.net.load_state_dict(sd, strict=False)
    x = torch.rand(2, 3, 80, 80, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), _ddcolor_tv_features(sd, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("net", ["alex", pytest.param("vgg", marks=pytest.mark.slow)])
def test_lpips_equals_the_lpips_package(net):
    torch.manual_seed(0)
    ref = lpips_pkg.LPIPS(net=net, pnet_rand=True, verbose=False).eval()  # random backbone, shipped v0.1 heads
    ours = LPIPS(net)
    ours.features.load_state_dict({k[len("features."):]: v for k, v in _lpips_backbone_state(ref).items()})
    ours.load_heads(torch.load(_heads_file(net), map_location="cpu", weights_only=True))
    g = torch.Generator().manual_seed(2)
    a, b = torch.rand(3, 3, 64, 64, generator=g), torch.rand(3, 3, 64, 64, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(ours(a, b), ref(a, b, normalize=True).flatten(), rtol=1e-5, atol=1e-6)
        assert float(ours(a, a).abs().max()) == 0.0


# ------------------------------------------------------------------------------------------ through the evaluator
def _inject(hub: Path, names: tuple[str, ...]) -> dict[str, dict[str, torch.Tensor]]:
    """Random-weight files at the names colorbench looks for; returns their state dicts."""
    import torchvision

    sds: dict[str, dict[str, torch.Tensor]] = {}
    if "inception_fid" in names:
        sds["inception_fid"] = random_state(fid_inception().net, seed=3)
        torch.save(sds["inception_fid"], hub / "pt_inception-2015-12-05-6726825d.pth")
    if "inception_v3" in names:
        sds["inception_v3"] = random_state(tv_inception().net, seed=4)
        torch.save(sds["inception_v3"], hub / "inception_v3_google-0cc3c7bd.pth")
    if "alexnet" in names:
        torch.manual_seed(5)
        sds["alexnet"] = torchvision.models.alexnet(weights=None).features.state_dict()
        torch.save({f"features.{k}": v for k, v in sds["alexnet"].items()}, hub / "alexnet-owt-7be5be79.pth")
        shutil.copy(_heads_file("alex"), hub / "lpips_v0.1_alex.pth")
    return sds


@pytest.mark.slow
def test_evaluator_with_injected_files_equals_the_reference_packages(hub, monkeypatch):
    """``Evaluator(metrics=[fid, lpips_alex])`` on random-weight files: LPIPS per image = the lpips package; FID =
    the Fréchet distance of pytorch-fid's features (scipy's sqrtm form); a second evaluation on the same truths
    takes the truth features from the cache. (fid_tv's network is checked against torchvision above; the same
    evaluator path serves both FIDs.)"""
    from pytorch_fid.fid_score import calculate_frechet_distance

    from colorbench.color import network_to_rgb, normalize_ab, normalize_l, rgb_to_lab
    from colorbench.evaluator import Evaluator

    sds = _inject(hub, ("inception_fid", "alexnet"))
    g = torch.Generator().manual_seed(6)
    true_rgb = torch.rand(2, 3, 80, 80, generator=g)
    lab = rgb_to_lab(true_rgb)
    L, ab = normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:])
    batch = {"L": L, "ab": ab, "rgb": true_rgb, "index": torch.arange(2)}
    pred_ab = (ab * 0.5 + 0.05 * torch.randn(ab.shape, generator=g)).clamp(-1, 1)
    ev = Evaluator("m", metrics=["fid", "lpips_alex"])
    ev.update(pred_ab, batch)
    out = ev.compute()
    pred_rgb = network_to_rgb(L, pred_ab)
    ref = lpips_pkg.LPIPS(net="alex", pnet_rand=True, verbose=False).eval()
    cuts = (0, 2, 5, 8, 10, 12)  # the lpips package's AlexNet slices keep torchvision's layer indices
    ref.net.load_state_dict({f"slice{i}.{k}": v for k, v in sds["alexnet"].items()
                             for i in range(1, 6) if cuts[i - 1] <= int(k.split(".")[0]) < cuts[i]})
    with torch.no_grad():
        want = ref(pred_rgb, true_rgb, normalize=True).flatten().double().numpy()
    np.testing.assert_allclose([r["lpips_alex"] for r in ev.records], want, rtol=1e-5)
    assert out["lpips_alex"] == pytest.approx(float(want.mean()), rel=1e-5)

    with torch.no_grad():
        net = _pytorch_fid_net(sds["inception_fid"], monkeypatch)
        ft, fp = (net(x)[0].flatten(1).double().numpy() for x in (true_rgb, pred_rgb))
    for name, (a, b) in (("fid", (ft, fp)),):
        # scipy's sqrtm on these rank-1 2048² covariances is slow: compare on the 2-d span of the centred
        # features instead, where the Fréchet distance is the same (the rest of both covariances is zero)
        basis, _ = np.linalg.qr(np.concatenate((a - a.mean(0), b - b.mean(0))).T)
        pa, pb = a @ basis, b @ basis
        mean_gap = float(np.sum((a.mean(0) - b.mean(0)) ** 2) - np.sum((pa.mean(0) - pb.mean(0)) ** 2))
        want = calculate_frechet_distance(pa.mean(0), np.cov(pa, rowvar=False), pb.mean(0),
                                          np.cov(pb, rowvar=False)) + mean_gap
        assert out[name] == pytest.approx(want, rel=1e-4), name

    calls = []
    built = fidmod.build("cpu", "fid")
    built.register_forward_hook(lambda mod, inp, res: calls.append(inp[0].shape[0]))
    again = Evaluator("m2", metrics=["fid"])
    again.update(pred_ab, batch)
    assert calls == [2]  # the prediction only: the truth's features came from the cache
    assert again.compute()["fid"] == pytest.approx(out["fid"], rel=1e-9)
    fidmod._TRUTH.clear()  # a later process: the features come from the files under CACHE_DIR
    assert len(list(fidmod.CACHE_DIR.glob("fid-*.pt"))) == 1
    later = Evaluator("m3", metrics=["fid"])
    later.update(pred_ab, batch)
    assert calls == [2, 2] and later.compute()["fid"] == pytest.approx(out["fid"], rel=1e-9)


def test_functional_lpips_needs_its_files(hub):
    from colorbench.errors import UserError
    from colorbench.metrics.lpips import lpips

    with pytest.raises(UserError, match="colorbench weights fetch alexnet"):
        lpips(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
