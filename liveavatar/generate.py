"""Command line generation with upstream Live Avatar's argument names.

    python -m liveavatar.generate --ckpt_dir ckpt --load_lora --lora_path_dmd Quark-Vision/Live-Avatar \\
        --prompt "..." --image portrait.jpg --audio speech.wav --size 704*384 --num_clip 10 \\
        --sample_steps 4 --infer_frames 48 --enable_online_decode --offload_model True \\
        --base_seed 420 --save_file out.mp4 [--device cuda|cpu] [--preview] [--low_memory | --vram_24gb | --vram_gb 24]
        [--enable_tts --tts_text "What the avatar says." in place of --audio]

Several people in one portrait speak their own tracks as with upstream: ``--audio a.wav+b.wav`` (track
k drives the k-th face from the left; ``--face_order 2,1`` changes that). The video lasts as long as
the longest track; upstream cuts every track to the shortest.

The same checks as the app run first; a problem stops with its fix and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from liveavatar.presets import SIZES, GenerationSettings, SettingsError, validate_settings
from liveavatar.speed import ATTENTION_KERNELS, SpeedOptions


def _bool(text: str) -> bool:
    value = str(text).strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m liveavatar.generate", description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt_dir", default=None, help="folder with Wan2.2-S2V-14B/ (default: $LIVEAVATAR_CKPT_DIR or ./ckpt)")
    p.add_argument("--load_lora", action="store_true", help="merge the Live Avatar LoRA (upstream always does)")
    p.add_argument("--lora_path_dmd", default=None, help="liveavatar.safetensors, or a folder / repo id holding it")
    p.add_argument("--prompt", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--audio", default=None,
                   help="the speech (WAV, MP3 …); or --enable_tts --tts_text. Several people: one track each, "
                        "joined with + (a.wav+b.wav), track k driving the k-th face from the left")
    p.add_argument("--face_order", default=None,
                   help="with several tracks: which face each drives, e.g. 2,1 (faces numbered from the left)")
    p.add_argument("--enable_tts", action="store_true", help="speak --tts_text with the offline voice instead of --audio")
    p.add_argument("--tts_text", default=None, help="what the avatar says (English; with --enable_tts)")
    p.add_argument("--tts_rate", type=float, default=1.0, help="speaking rate for --enable_tts, 0.5–2.0")
    p.add_argument("--size", default="704*384", choices=SIZES)
    p.add_argument("--num_clip", type=int, default=None, help="clips to make (default: the whole audio)")
    p.add_argument("--sample_steps", type=int, default=4)
    p.add_argument("--infer_frames", type=int, default=48)
    p.add_argument("--sample_guide_scale", type=float, default=0.0, help="the distilled model runs without CFG: only 0")
    p.add_argument("--sample_solver", default="euler", choices=["euler"])
    p.add_argument("--enable_online_decode", action="store_true")
    p.add_argument("--offload_model", type=_bool, default=False)
    p.add_argument("--base_seed", type=int, default=420)
    p.add_argument("--save_file", default="output.mp4")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--preview", action="store_true", help="use the CPU preview instead of the model")
    speed = p.add_argument_group("speed options (off by default; the plan shows their memory, and one the "
                                 "device can't use is turned off with the reason)")
    speed.add_argument("--attention", default="auto", choices=ATTENTION_KERNELS, help="pin torch's SDPA kernel")
    speed.add_argument("--compile", action="store_true", dest="torch_compile", help="torch.compile each DiT block")
    speed.add_argument("--cuda_graphs", action="store_true", help="CUDA graphs of the compiled block step (GPU)")
    speed.add_argument("--fp8", action="store_true", help="FP8 linear layers in the DiT blocks (18.6 GB weights)")
    speed.add_argument("--static_kv", action="store_true", help="fixed-shape KV-cache buffers")
    speed.add_argument("--overlap_decode", action="store_true", help="decode a clip while the next one denoises")
    speed.add_argument("--t5_cpu", action="store_true", dest="text_encoder_on_cpu", help="encode the prompt on the CPU")
    speed.add_argument("--stream_blocks", action="store_true",
                       help="DiT layer weights in host memory, streamed to the GPU layer by layer (~2 resident)")
    speed.add_argument("--offload_kv", action="store_true", help="KV caches in host memory, streamed per layer")
    speed.add_argument("--low_memory", action="store_true", help="the 48 GB path: --fp8 --t5_cpu")
    speed.add_argument("--vram_24gb", action="store_true",
                       help="the 24 GB path: --fp8 --t5_cpu --stream_blocks --offload_kv")
    speed.add_argument("--vram_gb", type=float, default=None,
                       help="plan for a GPU of this many GB instead of the one found, and take the fastest memory "
                            "path that fits it (80 / 48 / 24 GB paths)")
    return p


def speed_options(args: argparse.Namespace) -> SpeedOptions:
    opts = SpeedOptions(**{name: getattr(args, name) for name in SpeedOptions.names()})
    if args.vram_24gb:
        return opts.with_24gb()
    return opts.with_low_memory() if args.low_memory else opts


def speak(args: argparse.Namespace) -> str | None:
    """``--tts_text`` spoken by the offline voice into a WAV beside the output (kept: it is the video's
    audio); None after saying why on stderr (bad text, a bad rate, the voice not installed)."""
    from liveavatar.tts import Speaker, TTSTextError, TTSUnavailable, check_tts_text

    for r in check_tts_text(args.tts_text):
        if r.level != "ok":
            print(f"{r.level.upper():8} typed speech: {r.value}. {r.fix}", file=sys.stderr)
    out = Path(args.save_file)
    wav = out.with_name(f"{out.stem}-speech.wav")
    try:
        wav.parent.mkdir(parents=True, exist_ok=True)
        return Speaker().synthesize_to_wav(args.tts_text or "", wav, rate=args.tts_rate)
    except (TTSTextError, TTSUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def split_tracks(audio: str) -> list[str]:
    """Upstream's ``a.wav+b.wav``: one speech track per person. A path that exists as it is stays
    whole, so a single file with ``+`` in its name still works."""
    if Path(audio).exists() or "+" not in audio:
        return [audio]
    return [part for part in audio.split("+") if part]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.enable_tts:
        spoken = speak(args)
        if spoken is None:
            return 2
        args.audio = spoken
    elif not args.audio:
        print("error: give the speech with --audio FILE, or have it spoken with --enable_tts --tts_text \"...\".",
              file=sys.stderr)
        return 2
    if args.sample_guide_scale != 0:
        print("error: Live Avatar is distilled to run without guidance; use --sample_guide_scale 0.", file=sys.stderr)
        return 2
    try:
        settings = validate_settings(
            GenerationSettings(
                size=args.size, num_clip=args.num_clip, sample_steps=args.sample_steps, infer_frames=args.infer_frames,
                seed=args.base_seed, online_decode=args.enable_online_decode, offload_model=args.offload_model,
                speed=speed_options(args),
            )
        )
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from liveavatar.backends import BackendUnavailable, choose_backend
    from liveavatar.pipeline.checkpoint import CheckpointError
    from liveavatar.pipeline.pipeline import PipelineError
    from liveavatar.studio import InputProblemError, check_inputs, generate, inspect_inputs
    from liveavatar.vram import card_for_backend, fit

    try:
        choice = choose_backend(
            args.ckpt_dir, force_preview=args.preview, device=args.device, lora=args.lora_path_dmd,
            load_lora=args.load_lora, require_model=not args.preview,
        )
    except BackendUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tracks = split_tracks(args.audio)
    try:
        insp = inspect_inputs(args.prompt, args.image, tracks[0], more_audio=tracks[1:], face_order=args.face_order)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    card = card_for_backend(choice.backend, args.vram_gb)
    if card is not None and not choice.backend.is_preview:  # the fastest memory path that fits the card
        fitted = fit(settings, card, image_size=insp.image_size,
                     audio_seconds=insp.audio_seconds)
        if fitted.fits:
            settings = fitted.settings
            print(f"card: {card.name}, {card.budget_gb:.1f} GB usable: the {fitted.path.key} GB memory path", file=sys.stderr)
        else:
            gpu, path, host = fitted.need()
            print(f"warning: this run does not fit {card.name} ({card.budget_gb:.1f} GB usable): it needs "
                  f"{gpu:.1f} GB on the {path} GB path and {host:.1f} GB of host memory", file=sys.stderr)
    report = check_inputs(insp, settings, choice)
    for r in report.results:
        if r.level != "ok":
            print(f"{r.level.upper():8} {r.name}: {r.value} (rule: {r.threshold}). {r.fix}", file=sys.stderr)
    print(f"backend: {choice.backend.label}. {choice.reason}", file=sys.stderr)
    plan = report.plan
    print(
        f"plan: {plan.width}x{plan.height} @ {plan.fps} fps, {plan.num_clips} clip(s) x {plan.frames_per_clip} frames, "
        f"{plan.video_seconds:.2f} s; speed options: {', '.join(plan.settings.speed.enabled()) or 'none'}; "
        f"est. GPU memory {plan.gpu_memory_gb:.1f} GB", file=sys.stderr,
    )
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    out = Path(args.save_file)

    def on_clip(done: int, total: int, elapsed: float) -> None:
        print(f"clip {done}/{total} done ({elapsed:.1f} s)", file=sys.stderr)

    try:
        result = generate(insp, settings, choice, out.parent if str(out.parent) else ".", on_clip=on_clip,
                          cancel=threading.Event(), file_name=out.name)
    except (InputProblemError, CheckpointError, PipelineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.video_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
