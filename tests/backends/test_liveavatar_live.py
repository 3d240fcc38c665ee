"""The model backend's live session on the tiny checkpoint, through the Backend seam the app uses."""

from __future__ import annotations

import numpy as np
import pytest

from liveavatar.backends import choose_backend
from liveavatar.backends.base import PreparedInputs
from liveavatar.backends.tpp import TppBackend
from liveavatar.pipeline.pipeline import PipelineError
from liveavatar.plan import make_plan
from liveavatar.presets import GenerationSettings
from liveavatar.testing.synth import speech_like
from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


def _plan_and_inputs():
    plan = make_plan(GenerationSettings(size="64*64", sample_steps=3, infer_frames=24), image_size=(64, 64),
                     audio_seconds=None, backend="liveavatar", device="cpu")
    reference = (np.random.default_rng(1).random((plan.height, plan.width, 3)) * 255).astype(np.uint8)
    return plan, PreparedInputs("a man talking", reference, np.zeros(0, np.float32), seed=5)


def test_the_model_backend_streams_blocks_as_speech_is_pushed(ckpt):
    backend = choose_backend(ckpt, device="cpu").backend
    plan, inputs = _plan_and_inputs()
    speech = speech_like(1.2)
    session = backend.start_live(plan, inputs)
    try:
        assert session.block_frames == 12 and session.lookahead_samples > 0
        got = []
        for i in range(0, len(speech), 1600):  # 0.1 s at a time, as a microphone sends it
            session.push_audio(speech[i : i + 1600])
            while (block := session.next_block()) is not None:
                got.append(block)
        assert [b.index for b in got] == [0]  # block 1 (to 0.96 s) needs 1.285 s: the lookahead is not in
        session.end_audio()
        while (block := session.next_block()) is not None:
            got.append(block)
        assert session.finished
    finally:
        session.close()
    frames = np.concatenate([b.frames for b in got])
    assert [b.index for b in got] == [0, 1, 2]
    assert frames.shape == (30, plan.height, plan.width, 3) and frames.dtype == np.uint8  # 1.2 s
    assert np.array_equal(np.concatenate([b.audio_16k for b in got])[: len(speech)], speech)


def test_live_mode_over_tpp_is_refused_with_what_to_do_instead(ckpt):
    backend = TppBackend.__new__(TppBackend)  # no process group here: only the refusal is under test
    backend.world = 3
    plan, inputs = _plan_and_inputs()
    with pytest.raises(PipelineError, match="without --tpp"):
        backend.start_live(plan, inputs)
