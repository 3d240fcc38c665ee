"""Faults seen through the launched app: broken weights are named before loading, and the app keeps
serving. (Out of memory, crashes mid-job and temporary files are covered in ``tests/test_studio.py``
with test-double backends; the production code has no fault switches.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from liveavatar.examples import load_examples
from liveavatar.testing.server import launched_app

ROOT = Path(__file__).resolve().parents[2]
GOOD = next(e for e in load_examples(ROOT / "examples") if e.expect == "ok")
SMALL = json.dumps({"size": "384*256", "num_clip": 1, "sample_steps": 3, "infer_frames": 12, "seed": 3})


def _truncate(path: Path, keep: float) -> None:
    """What an interrupted download leaves: the start of the file only."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(int(size * keep))


@pytest.fixture(scope="module")
def broken_ckpt_server(tmp_path_factory):
    from liveavatar.pipeline.checkpoint import CheckpointLayout
    from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint

    ckpt = write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))
    layout = CheckpointLayout.from_root(ckpt)
    shard, vae = layout.dit_shards()[-1], layout.vae
    _truncate(shard, 0.6)  # a half-downloaded shard
    _truncate(vae, 0.5)  # a half-downloaded VAE .pth
    out = tmp_path_factory.mktemp("broken-outputs")
    with launched_app(out, "--ckpt_dir", str(ckpt), "--device", "cpu") as server:
        yield server, shard, vae


def test_broken_weights_are_named_and_the_app_keeps_serving(broken_ckpt_server):
    server, shard, vae = broken_ckpt_server
    client = Client(server["url"], verbose=False)
    for _ in range(2):  # the same clear answer each time: nothing half-loaded is kept between tries
        with pytest.raises(Exception) as info:
            client.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "custom", SMALL,
                           api_name="/generate")
        message = str(info.value)
        assert shard.name in message and vae.name in message, message
        assert "Traceback" not in message
    checks = client.predict(GOOD.prompt, handle_file(GOOD.image), handle_file(GOOD.audio), "quick", api_name="/check")
    assert checks and all({"id", "level"} <= set(c) for c in checks)
    assert server["proc"].poll() is None
    # The failed jobs kept nothing: no job folders, no partial videos.
    jobs = Path(server["out"]) / "jobs"
    assert not [p for p in jobs.rglob("*") if p.is_file()] if jobs.exists() else True
    assert not [p for p in Path(server["out"]).rglob("*.part*")]


def test_half_downloaded_files_are_found_by_verification(tmp_path):
    """The check the app runs before loading, for each kind of weight file, naming the file."""
    from liveavatar.pipeline.checkpoint import CheckpointLayout, verify_checkpoint
    from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint

    ckpt = write_tiny_checkpoint(tmp_path / "ckpt")
    layout = CheckpointLayout.from_root(ckpt)
    assert verify_checkpoint(layout).ok
    for victim in (layout.dit_shards()[0], layout.vae, layout.t5):
        original = victim.read_bytes()
        try:
            _truncate(victim, 0.5)
            report = verify_checkpoint(layout)
            assert not report.ok and any(p.file.name == victim.name for p in report.problems), report.message()
            assert victim.name in report.message()
        finally:
            victim.write_bytes(original)
            os.utime(victim)
    assert verify_checkpoint(layout).ok
