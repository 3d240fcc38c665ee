"""Messages the handlers write for the page follow its language: the refusal that lists the problems,
the result summary."""

from __future__ import annotations

import re

from liveavatar.checks.result import problem
from liveavatar.ui.handlers import problems_text, result_summary


def test_the_refusal_lists_each_problem_in_the_page_language():
    p = problem("image.faces", "Faces", "2 faces", "exactly 1 face", "Use a photo of one person.")
    en = problems_text([p], "en")
    assert en.startswith("Please fix before generating — ") and "Faces: 2 faces. Use a photo of one person." in en
    zh = problems_text([p], "zh")
    assert zh.startswith("生成前请先解决") and "人脸数量" in zh
    assert not re.search(r"[A-Za-z]{3,}", zh), zh


def test_the_result_summary_in_both_languages():
    info = {"status": "stopped", "seed": 7, "video_seconds": 3.84, "seconds": 2.5, "first_clip_seconds": 0.8,
            "backend": "preview", "warnings": ["Faces: 0 faces"], "error": None, "plan": {"width": 448, "height": 448}}
    en = result_summary(info, "en")
    assert "3.8 s of video at 448×448" in en and "Seed used: **7**" in en and "Stopped early" in en and "1 warning" in en
    zh = result_summary(info, "zh")
    assert "所用种子" in zh and "已提前停止" in zh and "python" not in zh
    assert not re.search(r"[A-Za-z]{3,}", re.sub(r"CPU", "", zh)), zh
    running = result_summary({"status": "running", "clips_done": 1, "clips_total": 4}, "zh")
    assert running == "第 1 个片段(共 4 个)已可播放,正在生成下一个。"
