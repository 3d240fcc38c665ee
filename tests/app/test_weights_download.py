"""The model-weights download: never in the public API, two steps (sizes first, then a confirm
button), fails fast offline, and is not offered on a hosted Space unless the operator allows it."""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import pytest

from liveavatar.backends import choose_backend
from liveavatar.pipeline.checkpoint import DownloadPlan
from liveavatar.testing.server import launched_app
from liveavatar.ui import handlers
from liveavatar.ui.errors import UserError
from liveavatar.ui.handlers import ServiceOptions, Studio

CLOSED = "http://127.0.0.1:9"  # nothing listens there: "offline" without waiting for a DNS timeout
PLAN = DownloadPlan(files=[("Wan-AI/Wan2.2-S2V-14B", "diffusion_pytorch_model-00001-of-00004.safetensors", 40_000_000_000),
                           ("Wan-AI/Wan2.2-S2V-14B", "Wan2.1_VAE.pth", 500_000_000),
                           ("Quark-Vision/Live-Avatar", "liveavatar.safetensors", 1_200_000_000)])


def studio(tmp_path: Path, allow: bool = True) -> Studio:
    return Studio(choose_backend(None, force_preview=True),
                  ServiceOptions(output_dir=tmp_path / "out", ckpt_dir=str(tmp_path / "ckpt"), allow_download=allow))


def test_offline_first_step_says_why_within_a_second_or_two(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", CLOSED)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    started = time.monotonic()
    message, button = studio(tmp_path).download_offer("en")
    elapsed = time.monotonic() - started
    assert elapsed < 3, f"the offline answer took {elapsed:.1f} s"
    assert "Cannot download" in message and CLOSED in message and "offline" in message
    assert button["visible"] is False  # nothing to confirm
    zh, _ = studio(tmp_path).download_offer("zh")
    assert "无法下载" in zh and "Cannot" not in zh
    assert not (tmp_path / "ckpt").exists(), "the first step must not create or fetch anything"


def test_a_hub_that_never_answers_is_cut_off_at_the_deadline(monkeypatch):
    def hangs(timeout):
        time.sleep(30)

    monkeypatch.setattr(handlers, "plan_download", hangs)
    started = time.monotonic()
    with pytest.raises(handlers.DownloadError, match="cannot reach the Hugging Face Hub"):
        handlers.plan_download_within(0.5)
    assert time.monotonic() - started < 3


def test_first_step_shows_the_sizes_and_a_confirm_button_but_downloads_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(handlers, "plan_download", lambda timeout: PLAN)
    called = []
    monkeypatch.setattr(handlers, "download_checkpoint", lambda *a, **k: called.append(a))
    message, button = studio(tmp_path).download_offer("en")
    assert "3 files, 41.7 GB in total" in message
    assert "Wan-AI/Wan2.2-S2V-14B: 40.5 GB" in message and "Quark-Vision/Live-Avatar: 1.2 GB" in message
    assert str(tmp_path / "ckpt") in message and "free there" in message
    assert button["visible"] is True and button["value"] == "Download 41.7 GB now"
    assert called == [], "the first step must not start the download"


def test_not_enough_space_hides_the_confirm_button(tmp_path, monkeypatch):
    monkeypatch.setattr(handlers, "plan_download", lambda timeout: PLAN)
    monkeypatch.setattr(handlers, "free_bytes", lambda target: 10_000_000_000)
    message, button = studio(tmp_path).download_offer("en")
    assert "Not enough disk space" in message and "41.7 GB" in message and "10.0 GB" in message
    assert button["visible"] is False


def test_the_confirm_step_downloads_and_reports_failures_plainly(tmp_path, monkeypatch):
    targets = []

    def fake_download(target, report, timeout):
        targets.append(Path(target))
        report("x", 5_000_000_000, 41_700_000_000)
        raise handlers.DownloadError("Download failed: cannot reach the Hugging Face Hub at x (boom).")

    monkeypatch.setattr(handlers, "download_checkpoint", fake_download)
    banner, message, button = studio(tmp_path).download_weights("en", progress=lambda *a, **k: None)
    assert targets == [tmp_path / "ckpt"]
    assert "Cannot download" in message and button["visible"] is False and banner == gr.update()


def test_download_refused_when_not_allowed(tmp_path):
    s = studio(tmp_path, allow=False)
    with pytest.raises(UserError, match="turned off"):
        s.download_offer("en")
    with pytest.raises(UserError, match="turned off"):
        s.download_weights("en")


def test_hosted_space_detection(monkeypatch):
    from liveavatar.hosting import on_hosted_space

    monkeypatch.delenv("SPACE_ID", raising=False)
    assert not on_hosted_space()
    monkeypatch.setenv("SPACE_ID", "someone/live-avatar")
    assert on_hosted_space()


# --- through the launched app -----------------------------------------------------------------
def _config(url: str) -> dict:
    import json
    import urllib.request

    with urllib.request.urlopen(url + "config", timeout=30) as r:
        return json.load(r)


def _elem_ids(config: dict) -> set[str]:
    return {c.get("props", {}).get("elem_id") for c in config["components"]} - {None}


def test_launched_app_keeps_the_download_out_of_the_api(tmp_path):
    from gradio_client import Client

    with launched_app(tmp_path / "local", "--preview") as server:
        client = Client(server["url"], verbose=False, download_files=False)
        api = client.view_api(print_info=False, return_format="dict")
        names = set(api["named_endpoints"]) | set(api["unnamed_endpoints"])
        assert not [n for n in names if "download" in str(n)], names
        assert {"/generate", "/check", "/stop"} <= names
        with pytest.raises(ValueError):
            client.predict(api_name="/download_weights")
        assert {"download-status", "download-confirm"} <= _elem_ids(_config(server["url"]))  # offered, on the page


def test_hosted_space_does_not_offer_the_download_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/live-avatar")
    with launched_app(tmp_path / "hosted", "--preview") as server:
        assert "download-confirm" not in _elem_ids(_config(server["url"]))
    with launched_app(tmp_path / "allowed", "--preview", "--allow_download") as server:
        assert "download-confirm" in _elem_ids(_config(server["url"]))
