"""English and Simplified Chinese text for the studio: UI labels, checklist names/fixes and prompt tips.

The parameter guide itself is Chinese (``parameter-guide.zh.txt``); the Chinese strings here follow its terms
(提示词, 参考图像, 音频, 采样步数, 分辨率, 采样率, 位深, 降噪, 口型同步 …).

How this meets Gradio 6.x i18n (verified on gradio 6.31 in headless Chromium):

* ``gr.I18n(**gradio_translations())`` passed to ``launch(i18n=...)``; a component gets ``label=i18n("key")``.
  The frontend translates the props ``label, info, placeholder, description, title, value`` (also for values
  returned by event handlers, e.g. ``gr.update(label=i18n("key"))`` or a Markdown value ``i18n("key")``).
* The frontend picks the locale from ``navigator.language`` only when it is one of Gradio's own locale codes
  (``zh-CN``, ``zh-TW``, ``en`` …; ``zh-CN``/``zh-TW`` then fall back to our ``zh`` keys). ``zh``, ``zh-HK``,
  ``zh-SG`` show English unless the page switches with :data:`AUTO_LOCALE_JS` / :data:`SET_LOCALE_JS`.
* Text built in Python (the checklist HTML, the plan Markdown) is translated here with :func:`t` /
  :func:`translate_result`, using :func:`pick_language` on the request's ``Accept-Language`` header
  (or ``?lang=`` from ``request.query_params``).
"""

from __future__ import annotations

from liveavatar.i18n.checks import CHECKS_ZH, check_name, translate_result  # noqa: F401 - re-exported
from liveavatar.i18n.service import SERVICE_UI

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"

# ------------------------------------------------------------------------------------------------
# UI strings (everything user-facing in app.py and report.py)
# ------------------------------------------------------------------------------------------------
UI: dict[str, dict[str, str]] = {
    # page
    "app_title": {"en": "Live Avatar Studio", "zh": "Live Avatar 数字人工作室"},
    "app_intro": {
        "en": "Give a **prompt**, a **portrait** and a **speech recording**; get a lip-synced video of that person "
        "talking. Inputs are checked before anything runs.",
        "zh": "提供**提示词**、一张**参考图像**(人像)和一段**语音音频**,即可生成此人说话、口型同步的视频。"
        "生成之前会先检查所有输入。",
    },
    "running": {"en": "Running:", "zh": "当前运行:"},
    "language": {"en": "Language", "zh": "语言"},
    # model weights
    "weights_accordion": {
        "en": "Model weights (about 50 GB; needs internet and a GPU with 80 GB)",
        "zh": "模型权重(约 50 GB;需要联网,以及一张 80 GB 显存的 GPU)",
    },
    "weights_help": {
        "en": "The real model needs Wan2.2-S2V-14B and the Live Avatar LoRA on disk. Point the app at them with "
        "`--ckpt_dir` or the environment variable, or download them here (sizes are shown before anything is fetched).",
        "zh": "真实模型需要本地存有 Wan2.2-S2V-14B 和 Live Avatar LoRA 权重。可用 `--ckpt_dir` 或环境变量指定路径,"
        "也可以在这里下载(下载前会先显示文件大小)。",
    },
    "download_button": {"en": "Download the model weights", "zh": "下载模型权重"},
    "downloaded_to": {"en": "Downloaded to", "zh": "已下载到"},
    "now_running": {"en": "Now running:", "zh": "当前运行:"},
    # inputs
    "prompt_label": {"en": "Prompt", "zh": "提示词"},
    "prompt_placeholder": {
        "en": "Character, action, environment, style — 100–200 words.",
        "zh": "人物特征、动作状态、环境设定、艺术风格——建议 100–200 词(英文)。",
    },
    "template_label": {"en": "Start from a prompt template", "zh": "从提示词模板开始"},
    "template_good": {"en": "Good example (guide)", "zh": "改进示例(指南)"},
    "template_bad": {"en": "Bad example (guide)", "zh": "较差示例(指南)"},
    "template_corporate_presenter": {"en": "corporate presenter", "zh": "企业宣讲人"},
    "template_news_anchor": {"en": "news anchor", "zh": "新闻主播"},
    "template_teacher": {"en": "teacher", "zh": "教师"},
    "template_vlogger": {"en": "vlogger", "zh": "视频博主"},
    "builder_accordion": {
        "en": "Prompt builder: character, action, environment, style",
        "zh": "提示词构建器:人物特征、动作状态、环境设定、艺术风格",
    },
    "builder_template_label": {"en": "Start from a template", "zh": "从模板开始"},
    "template_good_short": {"en": "guide's good example (short)", "zh": "指南的改进示例(简短)"},
    "template_game_character": {"en": "game character (Blizzard cinematics style)", "zh": "游戏角色(暴雪 CG 风格)"},
    "builder_character": {"en": "Character", "zh": "人物特征"},
    "builder_character_hint": {
        "en": "gender, age, hair, clothing — e.g. a young woman with long black hair in a blue suit",
        "zh": "性别、年龄、发型、服饰——例如:a young woman with long black hair in a blue suit",
    },
    "builder_action": {"en": "Action / state", "zh": "动作状态"},
    "builder_action_hint": {
        "en": "pose, gestures, emotion — e.g. smiling warmly and gesturing while speaking",
        "zh": "姿态、手势、情绪表达——例如:smiling warmly and gesturing while speaking",
    },
    "builder_environment": {"en": "Environment", "zh": "环境设定"},
    "builder_environment_hint": {
        "en": "background, lighting, depth of field — e.g. a modern office, soft light",
        "zh": "背景、布光、景深——例如:a modern office, soft light",
    },
    "builder_style": {"en": "Style", "zh": "艺术风格"},
    "builder_style_hint": {
        "en": "a film or art reference — e.g. cinematic, like a corporate video",
        "zh": "参考的影视或美术风格——例如:cinematic, like a corporate video",
    },
    "compose_button": {"en": "Write these into the prompt", "zh": "写入提示词"},
    "image_label": {"en": "Portrait", "zh": "参考图像(人像)"},
    "audio_label": {"en": "Speech", "zh": "语音音频"},
    "crop_button": {"en": "Crop around the face", "zh": "以人脸为中心裁剪"},
    "denoise_button": {"en": "Denoise audio", "zh": "音频降噪"},
    "loudness_button": {"en": "Normalise loudness", "zh": "音量标准化"},
    "convert_button": {"en": "Convert to 16 kHz mono 16-bit", "zh": "转换为 16 kHz 单声道 16 位"},
    # presets and advanced settings
    "preset_label": {"en": "Preset", "zh": "预设"},
    "preset_quick": {"en": "Quick (first tries)", "zh": "快速验证(初次尝试)"},
    "preset_standard": {"en": "Standard (everyday)", "zh": "标准生产(日常使用)"},
    "preset_high_quality": {"en": "High quality (long, pro)", "zh": "高质量长视频(专业)"},
    "preset_custom": {"en": "Custom (advanced settings)", "zh": "自定义(高级设置)"},
    "advanced_accordion": {
        "en": "Advanced settings (choose the Custom preset to change them)",
        "zh": "高级设置(选择“自定义”预设后才能修改)",
    },
    "size_label": {"en": "Size (area, width*height)", "zh": "分辨率(面积,宽*高)"},
    "clips_label": {"en": "Clips (0 = whole audio)", "zh": "片段数(0 = 整段音频)"},
    "steps_label": {"en": "Steps", "zh": "采样步数"},
    "frames_label": {
        "en": "Frames per clip (multiple of 12; model distilled at 48)",
        "zh": "每片段帧数(12 的倍数;模型按 48 帧蒸馏)",
    },
    "seed_label": {"en": "Seed (-1 = random)", "zh": "随机种子(-1 = 随机)"},
    "online_label": {"en": "Online decode (bounded memory on long videos)", "zh": "在线解码(长视频显存占用有上限)"},
    "offload_label": {"en": "CPU offload (fits smaller GPUs, slower)", "zh": "CPU 卸载(适配较小显存,速度变慢)"},
    "attention_label": {"en": "Attention kernel (model only)", "zh": "注意力内核(仅模型)"},
    "speed_label": {
        "en": "Speed options (model only; the plan shows their memory, and says why when this machine can't use one)",
        "zh": "加速选项(仅模型;计划中显示其显存,本机无法使用时会说明原因)",
    },
    "speed_compile": {"en": "torch.compile each block", "zh": "torch.compile 编译每个模块"},
    "speed_cuda_graphs": {"en": "CUDA graphs (GPU)", "zh": "CUDA 图(GPU)"},
    "speed_fp8": {"en": "FP8 linear layers (18.6 GB weights)", "zh": "FP8 线性层(权重 18.6 GB)"},
    "speed_static_kv": {"en": "Static KV-cache buffers", "zh": "静态 KV 缓存"},
    "speed_overlap": {"en": "Decode a clip while the next one is made", "zh": "生成下一片段时同时解码"},
    "speed_t5_cpu": {"en": "Text encoder on the CPU (with FP8: the 48 GB path)", "zh": "文本编码器放在 CPU(配合 FP8:48 GB 显卡方案)"},
    "settings_json_label": {
        "en": "Settings as JSON (what the /generate API receives)",
        "zh": "设置的 JSON 形式(/generate API 接收的内容)",
    },
    "generate_button": {"en": "Generate", "zh": "生成"},
    "stop_button": {"en": "Stop", "zh": "停止"},
    "consent_label": {
        "en": "I have the right to use this face and this voice.",
        "zh": "我有权使用此人像和此声音。",
    },
    "check_button": {"en": "Check", "zh": "检查"},
    "examples_label": {
        "en": "Examples — good inputs, and bad ones that show each check firing",
        "zh": "示例——合格的输入,以及会触发各项检查的不合格输入",
    },
    "overlay_label": {
        "en": "What the checks found (face box, and the crop the video will use)",
        "zh": "检查结果(人脸框,以及视频将使用的裁剪区域)",
    },
    # outputs
    "result_label": {"en": "Result", "zh": "生成结果"},
    "result_streaming_label": {
        "en": "Result (each clip plays as soon as it is made)",
        "zh": "生成结果(每个片段生成后即可播放)",
    },
    "history_accordion": {
        "en": "Your results (kept on this server for {hours} hours, then deleted)",
        "zh": "你的生成结果(在此服务器上保留 {hours} 小时,之后删除)",
    },
    "history_label": {"en": "History", "zh": "历史记录"},
    "rerun_button": {"en": "Load these inputs to re-run with one change", "zh": "载入这些输入,修改一处后重新生成"},
    "delete_button": {"en": "Delete my files now", "zh": "立即删除我的文件"},
    "run_details_accordion": {"en": "Run details (seed used, plan, timings)", "zh": "运行详情(所用种子、计划、耗时)"},
    "seed_used": {"en": "Seed used:", "zh": "所用种子:"},
    # plan headings (report.plan_markdown)
    "plan_backend": {"en": "Backend", "zh": "后端"},
    "plan_output": {"en": "Output", "zh": "输出"},
    "plan_clips": {"en": "Clips", "zh": "片段"},
    "plan_video_length": {"en": "Video length", "zh": "视频时长"},
    "plan_sampling": {"en": "Sampling", "zh": "采样"},
    "plan_expected_time": {"en": "Expected time", "zh": "预计耗时"},
    "plan_speed": {"en": "Speed options", "zh": "加速选项"},
    "plan_speed_plain": {"en": "none (the plain path)", "zh": "无(标准路径)"},
    "plan_gpu_memory": {"en": "Real model on one GPU", "zh": "真实模型单卡运行"},
    "plan_multi_gpu": {"en": "Multi-GPU", "zh": "多 GPU"},
    "plan_note": {"en": "Note", "zh": "注意"},
    "plan_settings": {"en": "Settings", "zh": "设置"},
    "plan_no_audio": {"en": "no audio yet", "zh": "尚无音频"},
    "on": {"en": "on", "zh": "开"},
    "off": {"en": "off", "zh": "关"},
    "random": {"en": "random", "zh": "随机"},
    # checklist (report.checklist_html)
    "checklist_empty": {
        "en": "Add a portrait and a speech recording to see the checks.",
        "zh": "添加参考图像和语音音频后即可查看检查结果。",
    },
    "verdict_problems": {
        "en": "{n} problem(s) must be fixed before generating",
        "zh": "生成前必须解决 {n} 个问题",
    },
    "verdict_ready": {"en": "Ready to generate", "zh": "可以生成"},
    "verdict_all_passed": {"en": "Ready to generate: every check passed", "zh": "可以生成:所有检查均已通过"},
    "verdict_warnings": {"en": "{n} warning(s)", "zh": "{n} 条警告"},
    "col_check": {"en": "Check", "zh": "检查项"},
    "col_measured": {"en": "Measured", "zh": "实测值"},
    "col_rule": {"en": "Rule", "zh": "标准"},
    "badge_ok": {"en": "OK", "zh": "通过"},
    "badge_warning": {"en": "WARNING", "zh": "警告"},
    "badge_problem": {"en": "PROBLEM", "zh": "问题"},
    "badge_info": {"en": "NOTE", "zh": "说明"},
    "checks_failed": {
        "en": "The checks could not run. Try another file.",
        "zh": "检查未能运行,请换一个文件再试。",
    },
    # messages from the handlers
    "starting": {"en": "Starting", "zh": "正在启动"},
    "clip_progress": {"en": "Clip {done} of {total}", "zh": "第 {done}/{total} 个片段"},
    "need_portrait": {"en": "Upload a portrait first.", "zh": "请先上传参考图像。"},
    "need_one_face": {
        "en": "Cropping needs exactly one detected face; see the checklist.",
        "zh": "裁剪需要图像中恰好检测到一张人脸,请查看检查清单。",
    },
    "need_audio": {"en": "Upload or record the speech first.", "zh": "请先上传或录制语音。"},
    "out_of_memory": {
        "en": "Out of memory. Try the quick preset or a smaller size.",
        "zh": "显存不足。请尝试“快速验证”预设或更低的分辨率。",
    },
    "generation_failed": {"en": "Generation failed", "zh": "生成失败"},
}

# ------------------------------------------------------------------------------------------------
# Prompt tips
# ------------------------------------------------------------------------------------------------
PROMPT_TIPS: dict[str, str] = {
    "en": """\
**Write the prompt in structured English and cover the four elements:**

1. **Character** — gender, age, hairstyle, clothing. *e.g. "A young woman with long black hair and brown eyes, wearing a blue business suit"*
2. **Action / state** — posture, gestures, emotion. *e.g. "She is smiling warmly and gesturing with her hands while speaking"*
3. **Environment** — background, lighting, depth of field. *e.g. "standing in a modern office, soft window light, shallow depth of field"*
4. **Style** — a film or art style to follow. *e.g. "cinematic style like a corporate video", "Blizzard cinematics style"*

- **Avoid vague words** such as "nice" or "beautiful": say what you want to see ("long wavy auburn hair", "soft warm light from a window on the left").
- **No contradictions** such as "happy but sad": the model cannot show both at once.
- **Keep it to 100–200 words**: a longer prompt may have parts ignored. Start from a template and adjust it.
- **Match the other inputs**: describe the person in the portrait, and a delivery that fits the audio (e.g. "speaking enthusiastically" only for lively speech).
""",
    "zh": """\
**提示词应采用结构化英文描述,包含以下四个要素:**

1. **人物特征**——性别、年龄、发型、服饰。*例如:"A young woman with long black hair and brown eyes, wearing a blue business suit"(一位黑色长发、棕色眼睛、身穿蓝色西装的年轻女性)*
2. **动作状态**——姿态、手势、情绪表达。*例如:"She is smiling warmly and gesturing with her hands while speaking"(她说话时温暖地微笑,并配合手势)*
3. **环境设定**——背景、布光、景深。*例如:"standing in a modern office, soft window light, shallow depth of field"(站在现代办公室里,柔和的窗光,浅景深)*
4. **艺术风格**——参考影视或美术风格。*例如:"cinematic style like a corporate video"(企业宣传片式的电影感风格)、"Blizzard cinematics style"*

- **避免模糊词汇**(如“nice”、“beautiful”):直接写出想看到的内容,例如 "long wavy auburn hair"(赤褐色长卷发)、"soft warm light from a window on the left"(左侧窗户透进的柔和暖光)。
- **不要出现矛盾描述**(如“happy but sad”):模型无法同时呈现两者。
- **控制长度在 100–200 词之间**:过长可能导致部分信息被忽略。可借鉴模板进行微调。
- **与其他输入保持一致**:描述参考图像中的人物,语气描述与音频相符(如只有语音充满激情时才写 "speaking enthusiastically")。
""",
}

# ------------------------------------------------------------------------------------------------
# Frontend helpers (Gradio 6.x internals; verified on 6.31)
# ------------------------------------------------------------------------------------------------
SET_LOCALE_JS = """
async (lang) => {
  const code = (lang === "zh" || (lang || "").startsWith("zh-")) ? "zh-CN" : "en";
  const url = performance.getEntriesByType("resource").map((e) => e.name)
    .find((n) => /\\/assets\\/core-[^/]*\\.js$/.test(n));
  if (url) { try { (await import(url)).changeLocale(code); } catch (e) { console.warn("changeLocale failed", e); } }
  return lang;
}
"""
"""``js=`` for a language switch (``radio.change(fn, radio, ..., js=SET_LOCALE_JS)``): re-labels the page in the
browser by calling the frontend's ``changeLocale`` export (the same function as Gradio's Settings → Language)."""

AUTO_LOCALE_JS = """
() => {
  const q = new URLSearchParams(location.search).get("lang");
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || "";
  const want = q ? (q.startsWith("zh") ? "zh-CN" : "en") : (nav.startsWith("zh") && !["zh-CN", "zh-TW"].includes(nav) ? "zh-CN" : null);
  if (!want) return;
  const url = performance.getEntriesByType("resource").map((e) => e.name)
    .find((n) => /\\/assets\\/core-[^/]*\\.js$/.test(n));
  if (url) import(url).then((m) => m.changeLocale(want)).catch((e) => console.warn("changeLocale failed", e));
}
"""
"""``launch(js=AUTO_LOCALE_JS)``: honours ``?lang=zh`` / ``?lang=en`` and shows Chinese for ``zh``, ``zh-HK``,
``zh-SG`` … browsers, which Gradio alone would show in English."""


UI.update(SERVICE_UI)  # the download's and hosting's texts (i18n/service.py)


# ------------------------------------------------------------------------------------------------
# API
# ------------------------------------------------------------------------------------------------
def _norm(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, lang: str | None = DEFAULT_LANGUAGE, **fmt: object) -> str:
    """The text for ``key`` in ``lang`` (unknown language → English); ``fmt`` fills ``{n}``-style fields."""
    entry = UI[key]
    text = entry.get(_norm(lang)) or entry[DEFAULT_LANGUAGE]
    return text.format(**fmt) if fmt else text


def pick_language(accept_language_header: str | None) -> str:
    """"zh" when the first preference of an ``Accept-Language`` header (or a bare code) is Chinese, else "en".

    The first preference is the highest-``q`` entry (ties keep the header's order); ``*`` and junk are ignored.
    """
    if not accept_language_header:
        return DEFAULT_LANGUAGE
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept_language_header.split(",")):
        bits = [b.strip() for b in part.split(";")]
        tag = bits[0].lower()
        if not tag or tag == "*":
            continue
        q = 1.0
        for b in bits[1:]:
            if b.lower().startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if best is None or q > best[0]:
            best = (q, i, tag)
    if best is None:
        return DEFAULT_LANGUAGE
    tag = best[2].replace("_", "-")
    return "zh" if tag == "zh" or tag.startswith("zh-") else "en"


def gradio_translations() -> dict[str, dict[str, str]]:
    """``{"en": {key: text}, "zh": {key: text}}`` for ``gr.I18n(**gradio_translations())``."""
    return {lang: {key: entry[lang] for key, entry in UI.items()} for lang in LANGUAGES}


def badge(level: str, lang: str | None) -> str:
    return t(f"badge_{level}", lang)
