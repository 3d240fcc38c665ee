"""repro.cli_command: the printed command parses back, through the CLI's own parser, to the same values."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from liveavatar.generate import build_parser, speed_options
from liveavatar.presets import PRESETS, GenerationSettings
from liveavatar.repro import LORA_REPO, cli_command
from liveavatar.speed import SpeedOptions

NASTY_PROMPTS = [
    "A young woman with long black hair, speaking in a modern office, cinematic style.",
    "She says \"hello\" and it's 'quoted' twice",
    "line one\nline two\n\n\ttabbed",
    "costs $HOME and ${PATH} and $(rm -rf /) and `whoami`; echo pwned && true || false | cat > /tmp/x",
    "Unicode: café, 日本語の女性, emoji 🎬, right-to-left שלום, combining é",
    "-starts with a dash",
    "--prompt looks like an option",
    "-x",
    "back\\slash \\n not a newline",
    "",
    "*?[glob] ~tilde #hash !bang",
]


def _parse(cmd: str):
    argv = shlex.split(cmd)
    assert argv[:3] == ["python", "-m", "liveavatar.generate"]
    return build_parser().parse_args(argv[3:]), argv


@pytest.mark.parametrize("prompt", NASTY_PROMPTS)
def test_prompt_round_trips_exactly(prompt):
    args, _ = _parse(cli_command(prompt, "portrait.jpg", "speech.wav", GenerationSettings()))
    assert args.prompt == prompt


@pytest.mark.parametrize(
    "settings",
    [
        GenerationSettings(),
        GenerationSettings(size="384*256", num_clip=10, sample_steps=3, infer_frames=36, seed=42,
                           online_decode=False, offload_model=True),
        GenerationSettings(size="720*1280", num_clip=1, sample_steps=6, infer_frames=240, seed=2**63 - 1,
                           online_decode=True, offload_model=False),
        GenerationSettings(seed=-1),
        GenerationSettings(seed=0),
        GenerationSettings(speed=SpeedOptions(attention="flash", torch_compile=True, cuda_graphs=True, fp8=True,
                                              static_kv=True, overlap_decode=True, text_encoder_on_cpu=True)),
        GenerationSettings(speed=SpeedOptions.low_memory()),
        *[p.settings for p in PRESETS.values()],
    ],
)
def test_every_setting_round_trips(settings):
    cmd = cli_command("A man speaking.", "in/portrait one.png", "in/speech (1).wav", settings,
                      ckpt_dir="/models/my ckpt", save_file="out dir/result.mp4")
    args, argv = _parse(cmd)
    assert args.ckpt_dir == "/models/my ckpt"
    assert args.load_lora is True
    assert args.lora_path_dmd == LORA_REPO == "Quark-Vision/Live-Avatar"
    assert args.image == "in/portrait one.png"
    assert args.audio == "in/speech (1).wav"
    assert args.size == settings.size
    assert args.num_clip == settings.num_clip
    assert args.sample_steps == settings.sample_steps
    assert args.infer_frames == settings.infer_frames
    assert args.enable_online_decode is settings.online_decode
    assert args.offload_model is settings.offload_model
    assert args.base_seed == settings.seed
    assert speed_options(args) == settings.speed
    assert args.save_file == "out dir/result.mp4"
    # The options the app never sets keep the CLI's defaults.
    assert args.sample_guide_scale == 0.0 and args.sample_solver == "euler"
    assert args.device is None and args.preview is False
    # Upstream's spelling: flags only when on, offload as True/False, num_clip omitted for the whole audio.
    assert ("--enable_online_decode" in argv) is settings.online_decode
    assert argv[argv.index("--offload_model") + 1] == ("True" if settings.offload_model else "False")
    assert ("--num_clip" in argv) is (settings.num_clip is not None)


def test_defaults_and_order():
    cmd = cli_command("p", "a.png", "b.wav", GenerationSettings(num_clip=10, seed=420, offload_model=True))
    assert cmd == (
        "python -m liveavatar.generate --ckpt_dir ckpt --load_lora --lora_path_dmd Quark-Vision/Live-Avatar "
        "--prompt p --image a.png --audio b.wav --size '704*384' --num_clip 10 --sample_steps 4 "
        "--infer_frames 48 --enable_online_decode --offload_model True --base_seed 420 --save_file output.mp4"
    )
    assert "\n" not in cli_command("a\nb", "a.png", "b.wav", GenerationSettings()).replace("'a\nb'", "")


def test_dash_leading_paths_round_trip():
    args, _ = _parse(cli_command("p", "-portrait.png", "--speech.wav", GenerationSettings(), save_file="-o.mp4",
                                 ckpt_dir="-ckpt"))
    assert (args.image, args.audio, args.save_file, args.ckpt_dir) == ("-portrait.png", "--speech.wav", "-o.mp4", "-ckpt")


def test_nul_is_dropped_rather_than_breaking_the_command():
    args, _ = _parse(cli_command("a\x00b", "a.png", "b.wav", GenerationSettings()))
    assert args.prompt == "ab"


def test_a_real_shell_passes_the_prompt_literally(tmp_path):
    """The quoting holds in /bin/sh itself, not just in shlex: nothing is expanded or executed."""
    prompt = NASTY_PROMPTS[3] + "\n" + NASTY_PROMPTS[1] + " " + NASTY_PROMPTS[4]
    cmd = cli_command(prompt, "a.png", "b.wav", GenerationSettings())
    script = tmp_path / "show.py"
    script.write_text("import sys\nsys.stdout.buffer.write(sys.argv[sys.argv.index('--prompt') + 1].encode())\n")
    shell_cmd = cmd.replace("python -m liveavatar.generate", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}", 1)
    out = subprocess.run(["/bin/sh", "-c", shell_cmd], capture_output=True, timeout=30, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == prompt
