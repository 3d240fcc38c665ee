"""wav2vec2 speech features (``wav2vec2-large-xlsr-53-english``) and their per-video-frame buckets.

Follows Wan2.2-S2V's ``wan/modules/s2v/audio_encoder.py`` (``extract_audio_feat`` with
``return_all_layers=True`` and ``get_audio_embed_bucket_fps``), which Live Avatar uses unchanged:

1. 16 kHz mono audio -> ``Wav2Vec2FeatureExtractor`` (zero-mean / unit-variance) -> ``Wav2Vec2ForCTC``
   with ``output_hidden_states=True``; all hidden states (CNN/projection output + every transformer
   layer: 25 for the large model) stacked as ``[layers, T_50Hz, 1024]``.
2. Linear interpolation (``align_corners=True``) along time from 50 Hz to 30 Hz:
   ``T_30 = int(T_50 / 50 * 30)``.
3. One bucket per video frame at ``fps``: frame k takes 30 Hz index ``round(k / fps * 30)``
   (with ``audio_sample_m`` = m > 0 also its neighbours at a stride of ``int(30 / fps)``, clamped to the
   sequence and concatenated along the feature axis); frames whose index lies past the audio are zeros.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

WAV2VEC_FOLDER = "wav2vec2-large-xlsr-53-english"
SAMPLE_RATE = 16000
FEATURE_RATE = 50  # wav2vec2's CNN stride is 320 samples at 16 kHz
HOP = SAMPLE_RATE // FEATURE_RATE  # 320 samples between 50 Hz features
RECEPTIVE_FIELD = 400  # samples under one 50 Hz feature (25 ms): the CNN's kernels and strides
VIDEO_RATE = 30  # upstream AudioEncoder.video_rate


def interpolate_features(features: torch.Tensor, input_fps: float = FEATURE_RATE,
                         output_fps: float = VIDEO_RATE, output_len: int | None = None) -> torch.Tensor:
    """Resample ``[L, T, D]`` along T from ``input_fps`` to ``output_fps`` (linear, align_corners)."""
    if output_len is None:
        output_len = int(features.shape[1] / float(input_fps) * output_fps)
    x = features.transpose(1, 2)  # [L, D, T]
    x = F.interpolate(x.float(), size=output_len, mode="linear", align_corners=True)
    return x.transpose(1, 2).to(features.dtype)


def frame_indices(num_frames: int, fps: float, feature_rate: float = VIDEO_RATE) -> np.ndarray:
    """30 Hz feature index of each video frame: ``round(k / fps * 30)`` for k in 0..num_frames-1."""
    t = np.linspace(0.0, num_frames / fps, num_frames, endpoint=False)
    return np.round(t * feature_rate).astype(int)


def bucket_frames(features_30: torch.Tensor, fps: float, num_frames: int, m: int = 0) -> torch.Tensor:
    """``[L, T_30, D]`` -> ``[L, num_frames, D * (2m + 1)]``, zeros past the end of the audio."""
    layers, t30, dim = features_30.shape
    stride = int(VIDEO_RATE / fps)
    out = features_30.new_zeros(layers, num_frames, dim * (2 * m + 1))
    for k, bi in enumerate(frame_indices(num_frames, fps)):
        if bi >= t30:
            continue
        idx = [min(max(c, 0), t30 - 1) for c in range(bi - m * stride, bi + (m + 1) * stride, stride)]
        out[:, k] = features_30[:, idx].flatten(start_dim=-2)
    return out


def to_video_frames(features: torch.Tensor, fps: float = 25, num_frames: int | None = None,
                    m: int = 0) -> torch.Tensor:
    """50 Hz wav2vec2 features ``[L, T_50, D]`` -> one feature per video frame ``[L, num_frames, D]``.

    Resamples linearly to 30 Hz, then takes, for video frame k, the 30 Hz feature nearest to its time
    (index ``round(k * 30 / fps)``); frames past the end of the audio get zero features (as upstream pads
    the last clip). ``num_frames`` defaults to every frame the audio covers (``ceil(T_30 * fps / 30)``).
    ``m`` > 0 concatenates 2m neighbouring features per frame (upstream ``audio_sample_m``; 0 in S2V).
    """
    if features.ndim != 3:
        raise ValueError(f"expected features [layers, T, dim], got {tuple(features.shape)}")
    f30 = interpolate_features(features)
    if num_frames is None:
        num_frames = math.ceil(f30.shape[1] * fps / VIDEO_RATE)
    return bucket_frames(f30, fps, num_frames, m=m)


def clip_count(features: torch.Tensor, fps: float = 25, infer_frames: int = 48) -> int:
    """Upstream's clip count for 50 Hz features (``min_batch_num`` of ``get_audio_embed_bucket_fps``):
    ``int(T_30 / (infer_frames * 30 / fps)) + 1`` -- one more than the clips the audio fills whole."""
    t30 = int(features.shape[1] / FEATURE_RATE * VIDEO_RATE)
    return int(t30 / (infer_frames * VIDEO_RATE / fps)) + 1


class AudioEncoder:
    """wav2vec2 feature extractor: ``extract(audio_16k) -> [layers+1, T_50Hz, hidden]``."""

    def __init__(self, model, feature_extractor, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        self.model = model
        self.feature_extractor = feature_extractor
        self.device = torch.device(device)
        self.dtype = dtype

    @classmethod
    def from_checkpoint(cls, folder: str | Path, device: torch.device | str = "cpu",
                        dtype: torch.dtype = torch.float32) -> "AudioEncoder":
        from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

        folder = Path(folder)
        if (folder / WAV2VEC_FOLDER).is_dir():
            folder = folder / WAV2VEC_FOLDER
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"wav2vec2 folder not found or incomplete: {folder}")
        fe = Wav2Vec2FeatureExtractor.from_pretrained(str(folder), local_files_only=True)
        model = Wav2Vec2ForCTC.from_pretrained(str(folder), local_files_only=True, dtype=dtype)
        model = model.to(device).eval().requires_grad_(False)
        return cls(model, fe, device=device, dtype=dtype)

    @property
    def num_states(self) -> int:
        return self.model.config.num_hidden_layers + 1

    @property
    def dim(self) -> int:
        return self.model.config.hidden_size

    @torch.no_grad()
    def extract(self, audio_16k: np.ndarray) -> torch.Tensor:
        """Mono 16 kHz samples -> all hidden states ``[num_layers+1, T_50Hz, hidden]`` (float32)."""
        audio = np.asarray(audio_16k, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected mono audio (1-D), got shape {audio.shape}")
        if audio.size < RECEPTIVE_FIELD:
            raise ValueError("audio too short for wav2vec2 (needs at least 400 samples at 16 kHz)")
        values = self.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_values
        return self.hidden_states(values)

    @torch.no_grad()
    def hidden_states(self, values: torch.Tensor) -> torch.Tensor:
        """Already normalised samples ``[1, N]`` -> ``[num_layers+1, T_50Hz, hidden]`` (float32); live mode
        normalises with its own running statistics (:class:`IncrementalAudioFeatures`)."""
        dev = next(self.model.parameters()).device
        out = self.model(values.to(dev, self.dtype), output_hidden_states=True)
        return torch.cat(out.hidden_states, dim=0).float()

    def to_video_frames(self, features: torch.Tensor, fps: float = 25,
                        num_frames: int | None = None, m: int = 0) -> torch.Tensor:
        return to_video_frames(features, fps=fps, num_frames=num_frames, m=m)

    def offload(self) -> None:
        self.model.to("cpu")
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


@dataclass(frozen=True)
class AudioWindow:
    """How much audio around a block live mode gives wav2vec2, in 50 Hz features (20 ms each).

    wav2vec2-large-xlsr attends over its whole input (24 global self-attention layers) and its
    positional convolution spans 128 features (±1.28 s), so a feature depends on everything around it;
    the offline run sees the whole utterance. Live mode cannot wait for the future, so each block is
    encoded with ``left`` features of the past (default 3 s: more than twice the positional
    convolution's reach) and ``right`` of lookahead (default 0.32 s: a quarter of that reach, a
    syllable or two). The lookahead is paid in latency: a block is made once its audio plus
    ``right`` features have arrived.
    """

    left: int = 150
    right: int = 16


class IncrementalAudioFeatures:
    """Per-video-frame wav2vec2 features computed as the speech arrives (live mode).

    Differences from :func:`to_video_frames` over the whole utterance, all deliberate:

    * wav2vec2 sees an :class:`AudioWindow` around the frames asked for, not the whole utterance.
    * The input is normalised to zero mean and unit variance with the statistics of everything heard
      up to the window's end, not of the window alone (a window of silence would otherwise be blown up
      to full-scale noise); as the speech goes on they converge to the whole-utterance statistics the
      offline run's feature extractor uses.
    * Frame k takes the 50 Hz features at position ``round(k * 30 / fps) * 50 / 30`` (linear between
      neighbours): the 30 Hz grid's true times. The offline run's ``align_corners`` resampling spreads
      the grid over the utterance's length ``(T50 - 1) / (T30 - 1)`` instead of 50 / 30, which puts its
      positions up to ~1.7 features (34 ms, less than a video frame) off by the end. Live speech has no
      known length; when it has (``total_samples``: a recording played in live mode), the offline
      grid is used and only the window differs.

    Past the end of the speech (after :meth:`end`) frames get zero features, as offline.
    """

    def __init__(self, encoder: "AudioEncoder", fps: float = 25, window: AudioWindow = AudioWindow(),
                 total_samples: int | None = None):
        self.encoder = encoder
        self.fps = fps
        self.window = window
        self._step = FEATURE_RATE / VIDEO_RATE  # 50 Hz features per 30 Hz step
        if total_samples is not None and total_samples >= RECEPTIVE_FIELD:
            t50 = (total_samples - RECEPTIVE_FIELD) // HOP + 1
            t30 = int(t50 / FEATURE_RATE * VIDEO_RATE)
            if t30 > 1:  # the offline run's align_corners grid (interpolate_features)
                self._step = (t50 - 1) / (t30 - 1)
        self._chunks: list[np.ndarray] = []
        self._audio = np.zeros(0, np.float32)
        self.ended = False
        self._stats_end = 0  # samples counted into the running sums
        self._sum = 0.0
        self._sumsq = 0.0

    # ---------------------------------------------------------------- audio in
    def push(self, samples_16k: np.ndarray) -> None:
        if self.ended:
            raise ValueError("no audio can be pushed after end()")
        chunk = np.asarray(samples_16k, dtype=np.float32).reshape(-1)
        if chunk.size:
            self._chunks.append(chunk)

    def end(self) -> None:
        self.ended = True

    @property
    def samples(self) -> int:
        return self._audio.size + sum(c.size for c in self._chunks)

    def spoken(self, start: int, end: int) -> np.ndarray:
        """The speech's samples ``start..end`` (fewer where it has not reached ``end``)."""
        return self._buffer()[start:end].copy()

    def _buffer(self) -> np.ndarray:
        if self._chunks:
            self._audio = np.concatenate([self._audio, *self._chunks])
            self._chunks = []
        return self._audio

    # ---------------------------------------------------------------- positions
    def _index30(self, frame: int) -> int:
        """Video frame -> 30 Hz index, as :func:`frame_indices`."""
        return round(frame * VIDEO_RATE / self.fps)

    def _position(self, frame: int) -> float:
        """50 Hz feature position of video frame ``frame``."""
        return self._index30(frame) * self._step

    def _feature_span(self, f0: int, f1: int) -> tuple[int, int]:
        """First and last 50 Hz feature (inclusive) wav2vec2 must output for frames ``f0..f1-1``."""
        first = max(0, math.floor(self._position(f0)) - self.window.left)
        last = math.floor(self._position(f1 - 1)) + 1 + self.window.right
        return first, last

    def samples_needed(self, f1: int) -> int:
        """Samples that must have arrived before frames up to ``f1`` (exclusive) can be made."""
        _, last = self._feature_span(max(f1 - 1, 0), f1)
        return last * HOP + RECEPTIVE_FIELD

    @property
    def lookahead_samples(self) -> int:
        """Audio needed past a frame's own time before it can be made (the window's right side)."""
        return (self.window.right + 1) * HOP + RECEPTIVE_FIELD

    def total_features(self) -> int:
        """50 Hz features in the whole speech (known once it has ended)."""
        n = self.samples
        return 0 if n < RECEPTIVE_FIELD else (n - RECEPTIVE_FIELD) // HOP + 1

    def frames_ready(self, f1: int) -> bool:
        return self.ended or self.samples >= self.samples_needed(f1)

    # ---------------------------------------------------------------- features out
    def _normalised(self, audio: np.ndarray, start: int, end: int) -> torch.Tensor:
        if end > self._stats_end:  # the statistics only ever grow forwards, in order
            seg = audio[self._stats_end : end].astype(np.float64)
            self._sum += float(seg.sum())
            self._sumsq += float(np.square(seg).sum())
            self._stats_end = end
        mean = self._sum / self._stats_end
        var = max(self._sumsq / self._stats_end - mean * mean, 0.0)
        values = (audio[start:end] - np.float32(mean)) / np.float32(math.sqrt(var + 1e-7))
        return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None]

    @torch.no_grad()
    def frames(self, f0: int, f1: int) -> torch.Tensor:
        """Features of video frames ``f0..f1-1``: ``[layers, f1 - f0, dim]`` (float32)."""
        if not self.frames_ready(f1):
            raise ValueError(f"frames up to {f1} need {self.samples_needed(f1)} samples; {self.samples} arrived")
        audio = self._buffer()
        first, last = self._feature_span(f0, f1)
        end = min(audio.size, last * HOP + RECEPTIVE_FIELD)
        start = first * HOP
        out = torch.zeros(self.encoder.num_states, f1 - f0, self.encoder.dim)
        if end - start < RECEPTIVE_FIELD:  # nothing of this window was spoken (past the end)
            return out
        states = self.encoder.hidden_states(self._normalised(audio, start, end))  # [L, n, D]
        n = states.shape[1]
        # Offline, frames whose 30 Hz index is past the resampled speech get zeros; known once it has ended.
        t30 = int(self.total_features() / FEATURE_RATE * VIDEO_RATE) if self.ended else None
        for j, frame in enumerate(range(f0, f1)):
            if t30 is not None and self._index30(frame) >= t30:
                continue
            pos = self._position(frame)
            lo = math.floor(pos) - first
            frac = pos - math.floor(pos)
            a = states[:, min(max(lo, 0), n - 1)]
            b = states[:, min(max(lo + 1, 0), n - 1)]
            out[:, j] = a + (b - a) * frac
        return out


def write_tiny_wav2vec2(folder: str | Path, *, hidden_size: int = 32, num_layers: int = 2,
                        num_heads: int = 2, seed: int = 0) -> Path:
    """Save a tiny random ``Wav2Vec2ForCTC`` (large-xlsr layout: stable layer norm, 50 Hz CNN) with
    config.json, model.safetensors, preprocessor_config.json and a tiny vocab.json."""
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor,
                              Wav2Vec2ForCTC)

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    letters = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ'")
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    vocab.update({c: i + 5 for i, c in enumerate(letters)})
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tok = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), unk_token="<unk>", pad_token="<pad>",
                               word_delimiter_token="|")
    tok.save_pretrained(str(folder))
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                  do_normalize=True, return_attention_mask=True)
    fe.save_pretrained(str(folder))
    config = Wav2Vec2Config(
        vocab_size=len(vocab), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, intermediate_size=hidden_size * 2,
        conv_dim=(16,) * 7,  # kernels/strides stay the real ones: 320-sample hop = 50 Hz
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
        pad_token_id=0, ctc_loss_reduction="mean",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Wav2Vec2ForCTC(config).eval()
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


__all__ = [
    "AudioEncoder", "AudioWindow", "FEATURE_RATE", "HOP", "IncrementalAudioFeatures", "RECEPTIVE_FIELD", "SAMPLE_RATE", "VIDEO_RATE", "WAV2VEC_FOLDER", "bucket_frames",
    "clip_count", "frame_indices", "interpolate_features", "to_video_frames", "write_tiny_wav2vec2",
]
