"""The download path fails fast and clearly when the Hub cannot be reached (never hits the network)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from liveavatar.pipeline.checkpoint import DownloadError, download_checkpoint

CLOSED_PORT = "http://127.0.0.1:9"  # discard port: nothing listens, so connections are refused at once
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", CLOSED_PORT)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    return tmp_path


def test_download_fails_fast_with_clear_message(offline_env):
    target = offline_env / "ckpt"
    calls = []
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download_checkpoint(target, progress=lambda *a: calls.append(a))
    assert time.monotonic() - start < 5
    msg = str(err.value)
    assert "cannot reach the Hugging Face Hub" in msg and CLOSED_PORT in msg
    assert "internet connection" in msg
    assert calls == []  # nothing announced, nothing fetched
    assert not target.exists()  # nothing created either


def test_hf_hub_offline_refuses_immediately(offline_env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE"):
        download_checkpoint(offline_env / "ckpt")


def test_cli_offline_exits_1_quickly(offline_env):
    env = dict(os.environ, HF_ENDPOINT=CLOSED_PORT, HF_HOME=str(offline_env / "hf_home"), PYTHONPATH=str(REPO_ROOT))
    env.pop("HF_HUB_OFFLINE", None)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "liveavatar.download", "--target", str(offline_env / "ckpt")],
                          capture_output=True, text=True, env=env, cwd=offline_env, timeout=60)
    assert time.monotonic() - start < 15
    assert proc.returncode == 1, proc.stderr
    assert "error: Download failed: cannot reach the Hugging Face Hub" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (offline_env / "ckpt").exists()
