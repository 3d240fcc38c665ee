"""Launch the real app in its own process and talk to it the way users' scripts do."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveavatar.testing.server import launched_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    with launched_app(tmp_path_factory.mktemp("outputs"), "--preview") as server:
        yield server


@pytest.fixture(scope="session")
def client(app_server):
    from gradio_client import Client

    return Client(app_server["url"], verbose=False, download_files=str(app_server["out"] / "downloads"))


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    """The app pointed at a tiny random checkpoint, running the real pipeline on the CPU."""
    from liveavatar.testing.tiny_checkpoint import write_tiny_checkpoint

    ckpt = write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))
    with launched_app(tmp_path_factory.mktemp("model-outputs"), "--ckpt_dir", str(ckpt), "--device", "cpu") as server:
        yield server
