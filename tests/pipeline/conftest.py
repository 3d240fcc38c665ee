"""The tiny checkpoint in the real layout and the pipeline loaded from it, shared by the pipeline tests
(module-scoped: each test module writes and loads its own, so no module sees another's changes)."""

from __future__ import annotations

import pytest

from liveavatar.pipeline.pipeline import LiveAvatarPipeline
from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def pipe(ckpt) -> LiveAvatarPipeline:
    return LiveAvatarPipeline.from_checkpoint(ckpt, device="cpu")[0]
