"""The visible "AI-generated" mark on outputs (on by default; a setting turns it off for self-hosting)."""

from __future__ import annotations

import cv2
import numpy as np

AI_LABEL = "AI-generated"
AI_METADATA = {"comment": "AI-generated with Live Avatar Studio (Live Avatar / Wan2.2-S2V-14B)", "ai_generated": "true"}


def stamp_label(frames: np.ndarray, text: str = AI_LABEL) -> np.ndarray:
    """Burn ``text`` into the bottom-right corner of every frame ([T, H, W, 3] uint8).

    Works in place when ``frames`` is a writable C-contiguous array (OpenCV draws only into
    those), else on a copy; use the returned array.

    Sized from the frame height so it stays legible from 64 px to 1280 px, on a dark box so it
    reads on any background.
    """
    if not (frames.flags.c_contiguous and frames.flags.writeable):
        frames = np.ascontiguousarray(frames).copy()
    t, h, w = frames.shape[:3]
    scale = max(0.25, h / 720)
    thickness = max(1, round(h / 360))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, round(h / 120))
    x1, y1 = w - pad, h - pad
    x0, y0 = max(0, x1 - tw - 2 * pad), max(0, y1 - th - base - 2 * pad)
    box = frames[:, y0:y1, x0:x1].astype(np.uint16)
    frames[:, y0:y1, x0:x1] = (box * 2 // 5).astype(np.uint8)  # darken under the text
    for i in range(t):
        cv2.putText(frames[i], text, (x0 + pad, y1 - pad - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    thickness, cv2.LINE_AA)
    return frames
