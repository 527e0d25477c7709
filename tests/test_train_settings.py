"""TrainSettings: one home of the trainer's defaults and checks, taken by train(), the CLI and the bench profiles."""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import pytest

from colorbench.bench import profiles
from colorbench.commands import train as train_cmd
from colorbench.errors import UserError
from colorbench.train.settings import TrainSettings, default


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    train_cmd.add_arguments(p)
    return p.parse_args(["some_method", *argv])


def test_the_command_takes_its_defaults_and_help_texts_from_train_settings():
    s = train_cmd.settings_from(_args(), {})
    assert (s.steps, s.epochs, s.val_every, s.ckpt_every, s.grid_every) == (1000, None, 250, 250, 500)
    assert (s.keep_checkpoints, s.seed, s.logger, s.precision) == (2, 0, "csv", "auto")
    assert TrainSettings().steps is None and TrainSettings().val_every is None  # the library trains only if asked
    p = argparse.ArgumentParser()
    train_cmd.add_arguments(p)
    text = " ".join(p.format_help().split())
    assert f"(default {default('val_every')}; 0 = never)" in text and "(default 250; 0 = never)" in text
    assert f"the newest (default {default('keep_checkpoints')})" in text


def test_flags_win_over_the_toml_and_epochs_replace_the_default_steps():
    table = {"steps": 7, "keep": 4, "seed": 3, "variant": "wide"}
    s = train_cmd.settings_from(_args("--seed", "5"), table)
    assert (s.steps, s.keep_checkpoints, s.seed) == (7, 4, 5)
    s = train_cmd.settings_from(_args("--epochs", "2"), table)  # a flag's length replaces the file's
    assert (s.steps, s.epochs) == (None, 2)
    assert train_cmd.settings_from(_args(), {"epochs": 3}).length() == {"epochs": 3}
    with pytest.raises(UserError, match="give --steps or --epochs, not both"):
        train_cmd.settings_from(_args("--steps", "3", "--epochs", "2"), {})


@pytest.mark.parametrize("table, flags, message", [
    ({"keep": 0}, (), r"--config None \[train\] keep 0: must be at least 1"),
    ({}, ("--size", "8"), "--size 8: must be at least 11; give the square training crop in px; at least 11"),
    ({"precision": "fp8"}, (), r"\[train\] precision 'fp8': use one of auto, fp32, bf16, fp16"),
    ({"logger": "wandb"}, (), r"\[train\] logger 'wandb': use one of csv, tensorboard"),
    # checked, though a flag replaces it
    ({"steps": "many"}, ("--steps", "4"), r"\[train\] steps 'many': expected a whole number"),
])
def test_every_value_is_checked_and_named_as_the_user_gave_it(table, flags, message):
    with pytest.raises(UserError, match=message):
        train_cmd.settings_from(_args(*flags), table)


def test_unknown_keys_name_the_valid_ones(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("[train]\nstepz = 3\n")
    with pytest.raises(UserError, match=r"unknown \[train\] keys \['stepz'\]; valid: steps, epochs"):
        train_cmd.read_toml(toml)
    with pytest.raises(UserError, match="unknown trainer setting 'stpes'. Did you mean 'steps'"):
        TrainSettings().replace(stpes=3)
    toml.write_text("[train]\ncompile = true\n")  # how one invocation runs: the command line's alone
    with pytest.raises(UserError, match=r"unknown \[train\] keys \['compile'\]"):
        train_cmd.read_toml(toml)
    toml.write_text('[train]\nchannels_last = "no"\nval_images = 8\n')
    _, table = train_cmd.read_toml(toml)
    with pytest.raises(UserError, match=r"\[train\] channels_last 'no': expected true or false"):
        train_cmd.settings_from(_args(), table)
    assert train_cmd.settings_from(_args(), {"channels_last": False, "val_images": 8}).val_images == 8


def test_train_takes_settings_and_keywords_over_them(tiny, tmp_path):
    from colorbench.train import resolve, train

    base = TrainSettings(steps=2, batch_size=4, size=16, progress=False)
    result = train(resolve("test_tiny", "synthetic", base), steps=3, out_dir=tmp_path)
    assert result.steps == 3 and (tmp_path / "checkpoints" / "step_0000003").is_dir()
    with pytest.raises(UserError, match="unknown trainer setting 'batchsize'"):
        train(resolve("test_tiny", "synthetic", base), batchsize=4)


def test_a_profile_checks_its_train_keys_with_the_trainer_minimums():
    trainer = {f.name: f.metadata.get("minimum") for f in dataclasses.fields(TrainSettings)}
    section = {f.name: f.metadata["minimum"] for f in dataclasses.fields(profiles.TrainSection)
               if f.metadata["kind"].startswith("int")}
    assert section and all(section[k] == trainer[k] for k in section)
    p = profiles.parse_profile({"datasets": ["sample"], "train": {"batch_size": 0}}, name="t")
    with pytest.raises(UserError, match="profile t: train.batch_size 0: must be at least 1"):
        profiles.check_profile(p)
    assert p["train"]["steps"] == 100 and dict(p["eval"]) == {"batch_size": 8, "samples": 4,
                                                               "legacy_histograms": False, "curve_points": 0,
                                                               "curve_images": 32, "metrics": ""}


def test_the_settings_module_loads_no_torch():
    code = "import sys, colorbench.train.settings, colorbench.commands.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
