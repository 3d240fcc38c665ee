"""The whole pipeline on a tiny random checkpoint in the real layout, on the CPU."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from liveavatar.pipeline.checkpoint import CheckpointError
from liveavatar.pipeline.pipeline import LiveAvatarPipeline, PipelineError
from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def pipe(ckpt):
    pipe, report = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu")
    assert report.lora is not None and report.lora.merged > 0
    return pipe


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    reference = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    audio = (rng.standard_normal(16000 * 2) * 0.1).astype(np.float32)
    return reference, audio


def _run(pipe, inputs, **kw):
    reference, audio = inputs
    args = dict(frames_per_clip=12, num_clips=2, steps=4, seed=3)
    args.update(kw)
    return [c.frames for c in pipe.generate("a woman talking", reference, audio, **args)]


def test_clips_have_the_planned_shape(pipe, inputs):
    clips = _run(pipe, inputs)
    assert [c.shape for c in clips] == [(12, 64, 64, 3)] * 2
    assert all(c.dtype == np.uint8 for c in clips)


def test_same_seed_same_video_other_seed_other_video(pipe, inputs):
    a, b, c = _run(pipe, inputs), _run(pipe, inputs), _run(pipe, inputs, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_online_and_offline_decode_make_the_same_video(pipe, inputs):
    online, offline = _run(pipe, inputs), _run(pipe, inputs, online_decode=False)
    assert all(np.array_equal(x, y) for x, y in zip(online, offline))


def test_lora_changes_the_output(ckpt, pipe, inputs):
    plain, _ = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu", load_lora=False)
    with_lora, without = _run(pipe, inputs, num_clips=1), _run(plain, inputs, num_clips=1)
    assert not np.array_equal(with_lora[0], without[0])


def test_cancel_stops_between_blocks(pipe, inputs):
    cancel = threading.Event()
    reference, audio = inputs
    got = []
    for clip in pipe.generate("x", reference, audio, frames_per_clip=12, num_clips=3, steps=3, seed=1, cancel=cancel):
        got.append(clip)
        cancel.set()
    assert len(got) == 1


def test_bad_inputs_get_clear_errors(pipe, inputs):
    reference, audio = inputs
    with pytest.raises(PipelineError, match="multiple of 12"):
        next(pipe.generate("x", reference, audio, frames_per_clip=16))
    with pytest.raises(ValueError, match="sample steps must be one of"):
        next(pipe.generate("x", reference, audio, frames_per_clip=12, steps=2))


def test_a_broken_checkpoint_is_named_before_loading(tmp_path):
    root = write_tiny_checkpoint(tmp_path / "ckpt")
    (root / "Wan2.2-S2V-14B" / "Wan2.1_VAE.pth").unlink()
    with pytest.raises(CheckpointError, match="Wan2.1_VAE.pth"):
        LiveAvatarPipeline.from_checkpoint(root, device="cpu")


def test_decode_only_loader_skips_the_dit_and_still_prepares_and_decodes(ckpt, inputs):
    """What a TPP decode rank loads: encoders + VAE, no DiT; it prepares the conditioning and decodes."""
    pipe, report = LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu", load_dit=False)
    assert pipe.transformer is None and report.dit_parameters == 0 and report.lora is None
    assert "decode-only" in report.summary()
    reference, audio = inputs
    context, feats, ref_latents, motion_latents, history = pipe.prepare_conditioning("x", reference, audio, 12, 1, 25)
    assert ref_latents.shape[2] == 1 and context.shape[-1] == pipe.config.text_dim
