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

import re

from liveavatar.i18n.checks import (  # noqa: F401 - re-exported
    CHECKS_ZH, DEFAULT_LANGUAGE, LANGUAGES, check_name, norm_lang, translate_result,
)

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
        "en": "What the checks found (face boxes numbered 1, 2, … from the left, and the crop the video will use)",
        "zh": "检查结果(人脸框,从左到右编号 1、2、……,以及视频将使用的裁剪区域)",
    },
    # several people (issue 14): one speech track per person, and which face each track drives
    "people_accordion": {"en": "Several people in the portrait (2–4)", "zh": "画面中有多个人(2–4 人)"},
    "people_help": {
        "en": "Each person speaks their own recording. The **Speech** box above is **person 1**; add one track for "
        "each other person here. Faces are numbered **1, 2, … from left to right** on the picture *What the checks "
        "found*. Track 1 drives face 1, track 2 face 2, and so on, unless you choose another order below.",
        "zh": "每个人说各自的录音。上方的**语音音频**框是**第 1 人**;在这里为其他每个人各添加一条音轨。"
        "人脸在“检查结果”图上**从左到右编号 1、2、……**。默认音轨 1 驱动人脸 1、音轨 2 驱动人脸 2,依此类推;"
        "也可以在下方选择其他对应关系。",
    },
    "audio_label_person1": {"en": "Speech (person 1)", "zh": "语音音频(第 1 人)"},
    "audio_label_person2": {"en": "Speech (person 2)", "zh": "语音音频(第 2 人)"},
    "audio_label_person3": {"en": "Speech (person 3)", "zh": "语音音频(第 3 人)"},
    "audio_label_person4": {"en": "Speech (person 4)", "zh": "语音音频(第 4 人)"},
    "face_order_label": {"en": "Which track drives which face", "zh": "哪条音轨驱动哪张人脸"},
    "face_order_info": {
        "en": "Faces are numbered from left to right, as on the picture. In the API: a text like \"2,1\" "
        "(track 1 → face 2, track 2 → face 1), or empty for the order above.",
        "zh": "人脸按图上从左到右编号。API 中:如 \"2,1\" 的文字(音轨 1 → 人脸 2,音轨 2 → 人脸 1),留空则按默认顺序。",
    },
    "face_order_in_order": {"en": "In order: {pairs}", "zh": "按顺序:{pairs}"},
    "face_order_pair": {"en": "track {track} → face {face}", "zh": "音轨 {track} → 人脸 {face}"},
    "face_order_one_track": {
        "en": "One speech track: it drives the one face",
        "zh": "只有一条语音音轨:它驱动唯一的人脸",
    },
    "overlay_track": {"en": "track", "zh": "音轨"},
    "people_tts_label": {"en": "Type what person 2, 3 or 4 says", "zh": "输入第 2、3 或 4 人要说的话"},
    "people_tts_placeholder": {
        "en": "Spoken offline, at the speaking rate set above, into the speech box of the person chosen here.",
        "zh": "离线朗读(语速用上方的设置),放入这里所选那个人的语音框。",
    },
    "people_tts_target": {"en": "Speak into", "zh": "放入"},
    "result_people": {"en": "{n} people speak: {pairs}.", "zh": "{n} 人说话:{pairs}。"},
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
        "en": "Add a portrait and a speech recording: they are checked as soon as they arrive.",
        "zh": "请添加参考图像和语音音频:上传后会立即检查。",
    },
    "verdict_missing": {"en": "Almost there:", "zh": "还差一步:"},
    "verdict_ready_warnings": {
        "en": "Ready to generate. {n} thing(s) could make the video better:",
        "zh": "可以生成。还有 {n} 处可以让视频更好:",
    },
    "checks_passed": {"en": "{n} other checks passed.", "zh": "其余 {n} 项检查均已通过。"},
    "checks_passed_all": {"en": "All {n} checks passed.", "zh": "全部 {n} 项检查均已通过。"},
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
    # plan, first layer (report.plan_summary) and details (report.plan_details)
    "plan_you_get": {
        "en": "**You will get** {length}, {w}×{h}, {fps} fps. About {time} to make.",
        "zh": "**将生成**{length},{w}×{h},{fps} fps。预计耗时约 {time}。",
    },
    "plan_length": {"en": "{seconds} s of video in {clips} clip(s)", "zh": "{seconds} 秒的视频({clips} 个片段)"},
    "plan_length_from_audio": {"en": "video as long as the speech", "zh": "与语音等长的视频"},
    "plan_last_clip": {
        "en": " (last clip trimmed to {n} frames to end with the audio)",
        "zh": "(最后一段裁剪为 {n} 帧,与音频同时结束)",
    },
    "plan_per_clip": {"en": "{s} s / clip", "zh": "每片段 {s} 秒"},
    "plan_sampling_values": {
        "en": "{steps} steps, online decode {online}, CPU offload {offload}, seed {seed}",
        "zh": "{steps} 步,在线解码{online},CPU 卸载{offload},种子 {seed}",
    },
    "n_frames": {"en": "{n} frames", "zh": "{n} 帧"},
    "n_seconds": {"en": "{n} s", "zh": "{n} 秒"},
    "n_minutes": {"en": "{n} min", "zh": "{n} 分钟"},
    "n_hours": {"en": "{n} h", "zh": "{n} 小时"},
    # the mode banner (one sentence) and the engineers' layer
    "banner_preview": {
        "en": "**Preview:** the real model isn't installed here, so videos are a simple moving-mouth stand-in, "
        "made on the CPU and marked as a preview.",
        "zh": "**预览模式**:此处未安装真实模型,生成的视频只是在 CPU 上制作的简单嘴部动画示意,并标注为预览。",
    },
    "banner_model": {
        "en": "**Live Avatar model:** videos are made by the real model on this server.",
        "zh": "**Live Avatar 模型**:视频由本服务器上的真实模型生成。",
    },
    "engineers_accordion": {"en": "Details for engineers", "zh": "工程师详情"},
    "engineers_checks": {"en": "Every check, with what was measured and the rule", "zh": "全部检查项:实测值与标准"},
    "engineers_plan": {"en": "Plan: settings, memory arithmetic, notes", "zh": "计划:设置、显存估算与说明"},
    "engineers_run": {"en": "Last run: command line and raw details", "zh": "上次运行:命令行与原始详情"},
    "limits": {
        "en": "**Limits:** files up to {mb} MB each; portraits up to {mp} megapixels; speech up to {audio}; "
        "prompt up to {chars} characters. Larger inputs are refused before any work starts.",
        "zh": "**限制**:每个文件最大 {mb} MB;人像最多 {mp} 百万像素;语音最长 {audio};提示词最多 {chars} 个字符。"
        "超出限制的输入会在开始前被拒绝。",
    },
    "retention": {
        "en": "Uploads and results are kept for {hours} hours, then deleted.",
        "zh": "上传的文件和生成结果保留 {hours} 小时,之后删除。",
    },
    "ai_mark_on": {
        "en": "Every video carries a visible “AI-generated” mark and an AI tag in its metadata.",
        "zh": "每个视频都带有可见的“AI 生成”标记,元数据中也有 AI 标签。",
    },
    "ai_mark_off": {"en": "The AI-generated mark is turned off on this server.", "zh": "本服务器关闭了“AI 生成”标记。"},
    # progress and results (ui/handlers.py)
    "estimating": {"en": "estimating…", "zh": "估算中…"},
    "preparing": {"en": "Preparing", "zh": "准备中"},
    "unit_clips": {"en": "clips", "zh": "个片段"},
    "progress_step": {
        "en": "Clip {clip}/{clips}, block {block}/{blocks}, step {step}/{steps} · ETA {eta}",
        "zh": "片段 {clip}/{clips},块 {block}/{blocks},第 {step}/{steps} 步 · 剩余约 {eta}",
    },
    "progress_clip": {"en": "Clip {done}/{total} done · ETA {eta}", "zh": "已完成 {done}/{total} 个片段 · 剩余约 {eta}"},
    "clip_ready": {
        "en": "Clip {done} of {total} is ready and playing; the next is being made.",
        "zh": "第 {done} 个片段(共 {total} 个)已可播放,正在生成下一个。",
    },
    "result_done": {
        "en": "**Done:** {video} s of video at {w}×{h}, made in {seconds} s by the {backend}.",
        "zh": "**完成**:{video} 秒视频,{w}×{h},由{backend}用时 {seconds} 秒生成。",
    },
    "result_first_clip": {"en": "The first clip was ready after {seconds} s.", "zh": "第一个片段在 {seconds} 秒后就绪。"},
    "result_seed": {
        "en": "Seed used: **{seed}** — to repeat this video, choose the Custom preset and type it into Seed.",
        "zh": "所用种子:**{seed}**——如需复现此视频,请选择“自定义”预设并在“随机种子”中填入该值。",
    },
    "result_stopped": {
        "en": "**Stopped early:** the finished clips are saved, with their audio.",
        "zh": "**已提前停止**:已完成的片段连同音频均已保存。",
    },
    "result_failed_part": {
        "en": "**The run failed after some clips;** what was finished is saved. The reason is under Details for engineers.",
        "zh": "**生成在部分片段后失败**;已完成的部分已保存。原因见“工程师详情”。",
    },
    "result_warnings": {
        "en": "Made despite {n} warning(s) from the checks.",
        "zh": "生成时检查仍有 {n} 条警告。",
    },
    "result_cli": {"en": "The same run from the command line:", "zh": "用命令行运行同样的生成:"},
    "fix_before_generating": {"en": "Please fix before generating — ", "zh": "生成前请先解决:"},
    "consent_needed": {
        "en": "Please confirm you have the right to use this face and this voice (the box above Generate).",
        "zh": "请先确认你有权使用此人像和此声音(勾选“生成”按钮上方的复选框)。",
    },
    "nothing_running": {"en": "Nothing is running.", "zh": "当前没有正在运行的任务。"},
    "stopping": {
        "en": "Stopping after the current block; the finished clips will be saved.",
        "zh": "将在当前块完成后停止;已完成的片段会被保存。",
    },
    # history
    "history_seed": {"en": "seed {seed}", "zh": "种子 {seed}"},
    "history_stopped": {"en": "stopped", "zh": "已停止"},
    "history_made": {"en": "seed {seed}, {seconds} s to make.", "zh": "种子 {seed},用时 {seconds} 秒。"},
    "history_first_clip": {"en": "First clip after {seconds} s.", "zh": "第一个片段 {seconds} 秒后就绪。"},
    "history_stopped_early": {"en": "Stopped early.", "zh": "提前停止。"},
    "pick_history_first": {"en": "Pick a result in your history first.", "zh": "请先在历史记录中选择一个结果。"},
    "deleted_files": {"en": "Deleted {n} file(s) of yours from this server.", "zh": "已从服务器删除你的 {n} 个文件。"},
    # one-click fixes
    "crop_would_shrink": {
        "en": "Not cropped: any crop of this photo would make the video smaller than the planned {w}×{h}. "
        "Use a larger photo, or generate with this one as it is.",
        "zh": "未裁剪:这张照片的任何裁剪都会让视频小于计划的 {w}×{h}。请换一张更大的照片,或直接用原图生成。",
    },
    "crop_done": {
        "en": "Cropped a {cw} × {ch} px area around the face out of the {w} × {h} px photo; the video stays {pw}×{ph}.",
        "zh": "已从 {w} × {h} 像素的照片中裁出人脸周围 {cw} × {ch} 像素的区域;视频尺寸仍为 {pw}×{ph}。",
    },
    "crop_prompt_warning": {
        "en": "Your prompt also describes the surroundings ({words}); parts of them may now be outside the picture.",
        "zh": "你的提示词还描述了周围环境({words});其中一部分现在可能已在画面之外。",
    },
    "fix_undo_hint": {"en": "Press Undo to get the original back.", "zh": "点击“撤销”可恢复原文件。"},
    # typed speech (issue 13): the text box under the speech input, and /generate's text
    "tts_placeholder": {
        "en": "English or Chinese (Mandarin). Press “Speak this text”: the speech is made offline and put into the Speech box above.",
        "zh": "英文或中文(普通话)。点击“朗读这段文字”:语音在本机离线合成,并放入上方的“语音”框。",
    },
    "tts_rate_label": {"en": "Speaking rate (1 = normal)", "zh": "语速(1 为正常)"},
    "tts_button": {"en": "Speak this text", "zh": "朗读这段文字"},
    "tts_speaking": {"en": "Speaking the text …", "zh": "正在朗读文字……"},
    "tts_text_problem": {"en": "This text cannot be spoken — {value}. {fix}", "zh": "这段文字无法朗读——{value}。{fix}"},
    "tts_missing": {"en": "Text to speech is not available on this server: {reason}", "zh": "此服务器上无法使用文字转语音:{reason}"},
    "tts_bad_rate": {"en": "The speaking rate must be between {low} and {high}; got {rate}.", "zh": "语速必须在 {low} 到 {high} 之间;收到的是 {rate}。"},
    "tts_done": {
        "en": "Spoke {words} {unit} in {voice} at rate {rate}: {seconds} s of speech, made in {made} s. It is now the speech input, checked, planned and fixable like an upload.",
        "zh": "已用{voice}以 {rate} 倍语速朗读 {words} {unit}:共 {seconds} 秒语音,合成用时 {made} 秒。它现在就是语音输入,会像上传的录音一样被检查、规划和修复。",
    },
    "tts_unit_words": {"en": "words", "zh": "个词"},
    "tts_unit_characters": {"en": "characters", "zh": "个字"},
    "tts_voice_en": {"en": "the English voice (Piper “joe”)", "zh": "英文语音(Piper “joe”)"},
    "tts_voice_zh": {"en": "the Mandarin voice (espeak-ng, synthetic)", "zh": "普通话语音(espeak-ng 合成音)"},
    "tts_note": {"en": "Note — {name}: {fix}", "zh": "注意——{name}:{fix}"},
    "tts_used": {"en": "The speech was spoken from the text: {words} {unit}, {voice}, rate {rate}, {seconds} s.",
                 "zh": "语音由文字朗读而来:{words} {unit},{voice},语速 {rate},共 {seconds} 秒。"},
    "tts_ignored": {"en": "Both audio and text were given: the audio was used and the text was not spoken.",
                    "zh": "同时提供了音频和文字:使用了音频,文字未被朗读。"},
    "undo_button": {"en": "Undo the last fix", "zh": "撤销上一次修复"},
    "nothing_to_undo": {"en": "There is no fix to undo.", "zh": "没有可撤销的修复。"},
    "undone": {"en": "Undone: the input is back as it was before the fix.", "zh": "已撤销:输入已恢复为修复前的样子。"},
    "audio_unreadable": {"en": "The audio could not be read.", "zh": "无法读取该音频。"},
    "example_bad": {"en": "{name} (bad example)", "zh": "{name}(反例)"},
    # memory paths and the card's fit (report.memory_lines)
    "plan_memory_path": {"en": "Memory path", "zh": "显存方案"},
    "path_80": {"en": "80 GB path: bf16 weights, everything on the GPU", "zh": "80 GB 方案:bf16 权重,全部放在 GPU 上"},
    "path_48": {"en": "48 GB path: FP8 blocks, text encoder on the CPU", "zh": "48 GB 方案:FP8 块,文本编码器放在 CPU 上"},
    "path_24": {"en": "24 GB path: FP8 blocks streamed from host memory, KV caches on the host",
                "zh": "24 GB 方案:FP8 块从主机内存流式载入,KV 缓存放在主机内存"},
    "path_24_kv_on_card": {"en": "24 GB path: FP8 blocks streamed from host memory, KV caches on the GPU (they fit)",
                           "zh": "24 GB 方案:FP8 块从主机内存流式载入,KV 缓存放在 GPU 上(放得下)"},
    "plan_host_memory": {"en": "Host memory (RAM)", "zh": "主机内存"},
    "plan_card": {"en": "This card", "zh": "本显卡"},
    "card_figures": {"en": "{name}, {total} GB ({budget} GB for the plan, the {path} GB class), RAM {ram}",
                     "zh": "{name},{total} GB(计划可用 {budget} GB,属于 {path} GB 级别),内存 {ram}"},
    "card_fits": {"en": "this run takes the {path} GB path: {gpu} GB on the GPU, {host} GB of host memory",
                  "zh": "本次运行采用 {path} GB 方案:显存 {gpu} GB,主机内存 {host} GB"},
    "card_needs": {"en": "This run does not fit this card: it needs a {card} GB card ({path} GB path, {gpu} GB planned) "
                         "and {host} GB of host memory (this machine: {ram}).",
                   "zh": "本次运行超出本显卡的容量:需要 {card} GB 的显卡({path} GB 方案,计划 {gpu} GB)"
                         "以及 {host} GB 主机内存(本机:{ram})。"},
    "ram_unknown": {"en": "unknown", "zh": "未知"},
    "plan_presets_card": {"en": "Presets on this card", "zh": "本显卡可用的预设"},
    "preset_fits_on": {"en": "{preset}: fits, {path} GB path, {gpu} GB", "zh": "{preset}:可运行,{path} GB 方案,{gpu} GB"},
    "preset_needs": {"en": "{preset}: needs a {card} GB card ({path} GB path) and {host} GB of host memory",
                     "zh": "{preset}:需要 {card} GB 显卡({path} GB 方案)和 {host} GB 主机内存"},
    # the server's own services: the model-weights download, hosting (ui/handlers.py)
    "weights_help_no_download": {
        "en": "The real model needs Wan2.2-S2V-14B and the Live Avatar LoRA on disk; the operator points the app at "
        "them with `--ckpt_dir` or `LIVEAVATAR_CKPT_DIR`. Downloading them from this page is turned off on this "
        "hosted app.",
        "zh": "真实模型需要本地存有 Wan2.2-S2V-14B 和 Live Avatar LoRA 权重,由运维人员通过 `--ckpt_dir` 或 "
        "`LIVEAVATAR_CKPT_DIR` 指定路径。此托管应用已关闭从本页面下载权重。",
    },
    "download_off": {
        "en": "Downloading the model weights is turned off on this server.",
        "zh": "本服务器已关闭模型权重下载。",
    },
    "download_offer": {
        "en": "**This would download** {files} files, {total} in total ({parts}), into `{target}` ({free} free there). "
        "Nothing has been fetched yet: press **{button}** to start.",
        "zh": "**将要下载** {files} 个文件,共 {total}({parts}),保存到 `{target}`(该处剩余 {free})。"
        "目前尚未下载任何内容:按 **{button}** 开始。",
    },
    "download_confirm": {"en": "Download {size} now", "zh": "立即下载 {size}"},
    "download_progress": {"en": "Downloading the model weights: {done} of {total}", "zh": "正在下载模型权重:{done} / {total}"},
    "download_no_space": {
        "en": "**Not enough disk space:** the download needs {need} in `{target}`, and {free} is free there. "
        "Free some space, or start the app with another `--ckpt_dir`.",
        "zh": "**磁盘空间不足:** 下载需要在 `{target}` 中占用 {need},该处仅剩 {free}。请释放空间,或用其他 "
        "`--ckpt_dir` 启动应用。",
    },
    "download_offline": {
        "en": "**Cannot download:** the Hugging Face Hub at {endpoint} cannot be reached (is this machine offline?). "
        "Check the internet connection (or `HF_ENDPOINT` / proxy settings) and try again, or copy an existing "
        "checkpoint folder and set `LIVEAVATAR_CKPT_DIR`.",
        "zh": "**无法下载:** 无法连接 {endpoint} 上的 Hugging Face Hub(本机是否未联网?)。请检查网络连接"
        "(或 `HF_ENDPOINT` / 代理设置)后重试,或复制已有的权重文件夹并设置 `LIVEAVATAR_CKPT_DIR`。",
    },
    "download_hub_offline": {
        "en": "**Cannot download:** `HF_HUB_OFFLINE` is set on this server.",
        "zh": "**无法下载:** 本服务器设置了 `HF_HUB_OFFLINE`。",
    },
    "download_failed": {"en": "**Download failed:** {reason}", "zh": "**下载失败:** {reason}"},
    # live mode (liveavatar/ui/live.py)
    "live_accordion": {"en": "Live: speak, and the avatar follows as you talk", "zh": "实时模式:你一说话,数字人就跟着说"},
    "live_intro": {
        "en": "Uses the portrait, prompt and preset above. Tick the consent box, then press record on the "
        "microphone and speak: every 0.48 s of speech becomes video while you are still talking. Stop the "
        "recording (or press Stop live) to finish; the whole run is saved to your history. Or type a text: it "
        "is spoken sentence by sentence, and the video starts after the first sentence.",
        "zh": "使用上方的人像、提示词和预设。勾选同意框后,按下麦克风的录音键开始说话:你还在说的时候,每 0.48 秒的语音"
        "就会变成视频。停止录音(或按“停止实时”)即结束;整段会保存到你的历史记录。也可以输入文字:逐句朗读,第一句读完视频就开始。",
    },
    "live_mic": {"en": "Microphone (live)", "zh": "麦克风(实时)"},
    "live_text": {"en": "Or type a text to speak live", "zh": "或输入一段文字实时朗读"},
    # the typed-speech box under the Speech input (app.py) uses this text; live mode's has its own above
    "tts_text_label": {"en": "Type what the avatar says", "zh": "输入数字人要说的话"},
    "live_text_placeholder": {
        "en": "One or more English sentences; the first is spoken while the rest are still being made.",
        "zh": "一句或多句英文;第一句开始朗读时,其余的还在合成。",
    },
    "live_speak_button": {"en": "Speak this text live", "zh": "实时朗读这段文字"},
    "live_stop_button": {"en": "Stop live", "zh": "停止实时"},
    "live_video": {"en": "Live video (streams as it is made)", "zh": "实时视频(边生成边播放)"},
    "live_latency_label": {"en": "Latency", "zh": "延迟"},
    "live_waiting": {"en": "Live: listening… {speech} s of speech heard, waiting for the first block.",
                     "zh": "实时:正在听……已收到 {speech} 秒语音,等待第一个块。"},
    "live_readout": {
        "en": "**Mouth follows your voice by {p50} s; p95 {p95} s.** {blocks} blocks · {speech} s of speech · "
        "drift {drift} s per 10 s",
        "zh": "**嘴型比你的声音晚 {p50} 秒;p95 {p95} 秒。** {blocks} 个块 · {speech} 秒语音 · 漂移每 10 秒 {drift} 秒",
    },
    "live_done": {"en": "Live run saved to your history: {video} s of video.", "zh": "实时结果已保存到历史记录:{video} 秒视频。"},
    "live_stopped": {"en": "Stopped; what was made is saved.", "zh": "已停止;已生成的部分已保存。"},
    "live_limit": {"en": "The live limit of {limit} of speech was reached; the run ended there.",
                   "zh": "已达到实时语音上限 {limit},本次到此结束。"},
    "live_nothing_made": {"en": "No video was made: no speech reached a whole block (0.48 s).",
                          "zh": "没有生成视频:语音不足一个块(0.48 秒)。"},
    "live_failed": {"en": "The live run failed after some blocks; what was made is saved. Reason: {reason}",
                    "zh": "实时生成在部分块后失败;已生成的部分已保存。原因:{reason}"},
    "live_no_portrait": {"en": "Live mode needs a portrait: upload or take a photo above first.",
                         "zh": "实时模式需要人像:请先在上方上传或拍摄照片。"},
    "live_bad_portrait": {"en": "The portrait cannot be used: {reason}", "zh": "此人像无法使用:{reason}"},
    "live_several_faces": {
        "en": "Live mode drives one person, and this portrait has {faces} faces. Crop it to the one who speaks "
              "(\"Crop around the face\"), or make a video instead, with a speech track for each person "
              "(\"Several people in the portrait\").",
        "zh": "实时模式只驱动一个人,而这张人像中有 {faces} 张人脸。请把照片裁剪到说话的那个人(“以人脸为中心裁剪”),"
              "或改为生成视频,为每个人各提供一条语音音轨(“画面中有多个人”)。",
    },
    "live_busy": {"en": "You already have a live run going (one at a time). Stop it first.",
                  "zh": "你已有一个实时任务在运行(一次只能一个)。请先停止它。"},
    "live_unavailable": {"en": "Live mode is not available with this backend: {reason}",
                         "zh": "当前后端不支持实时模式:{reason}"},
    "live_text_problem": {"en": "This text cannot be spoken: {reason}", "zh": "这段文字无法朗读:{reason}"},
    "live_tts_missing": {"en": "Text to speech is not installed on this server: {reason}",
                         "zh": "本服务器未安装文字转语音:{reason}"},
    "live_stopping": {"en": "Stopping live mode after the current block; what was made is saved.",
                      "zh": "将在当前块完成后停止实时模式;已生成的部分会被保存。"},
    "live_nothing": {"en": "No live run is going.", "zh": "当前没有正在进行的实时任务。"},
    "live_history": {"en": "live", "zh": "实时"},
}

#: The bundled examples' names (examples/examples.json) in Chinese.
EXAMPLE_NAMES_ZH: dict[str, str] = {
    "Astronaut, 8 s of speech": "宇航员,8 秒语音",
    "Astronaut, one short sentence": "宇航员,一句短语",
    "Bad prompt: too short and vague": "较差的提示词:过短且含糊",
    "Two faces": "两张人脸",
    "No face": "没有人脸",
    "Small and dark": "又小又暗",
    "Blurry portrait": "模糊的人像",
    "Silence": "静音",
    "Too short": "太短",
    "Quiet, noisy, 8 kHz": "音量小、有噪声、8 kHz",
    "Long pause": "长时间停顿",
    "Two people talking": "两人对话",
}

# ------------------------------------------------------------------------------------------------
# Texts built elsewhere with measured numbers (backend reasons, plan notes, memory parts): each English
# form as a whole-string pattern and its Chinese; paths and error details stay as code.
# ------------------------------------------------------------------------------------------------
TEXT_ZH: list[tuple[re.Pattern[str], str]] = [(re.compile(en, re.S), zh) for en, zh in (
    (r"CPU preview \(not the model\)", "CPU 预览(不是真实模型)"),
    (r"Live Avatar model \(Wan2\.2-S2V-14B \+ Live Avatar LoRA\)", "Live Avatar 模型(Wan2.2-S2V-14B + Live Avatar LoRA)"),
    (r"Live Avatar model over (\d+) processes \(pipeline-parallel: (\d+) denoise, rank 0 decodes\)",
     r"Live Avatar 模型,\g<1> 个进程(流水线并行:\g<2> 个去噪,0 号进程解码)"),
    (r"The preview was chosen with --preview\.", "启动参数 --preview 指定了预览。"),
    (r"No Live Avatar weights were found, so the CPU preview runs: .*? it is not the model\. \((.*)\)",
     r"未找到 Live Avatar 权重,因此运行 CPU 预览:它按音频响度驱动人像的嘴部来演示流程,并不是真实模型。查找结果:`` \g<1> ``"),
    (r"Weights found in (.+), but no CUDA GPU is available, so the CPU preview runs \(.*\)\.",
     r"在 `\g<1>` 找到了权重,但没有可用的 CUDA GPU,因此运行 CPU 预览(加 --device cpu 可在 CPU 上运行真实模型,仅适合极小的测试权重)。"),
    (r"Weights from (.+), running on (\S+); they load on the first generation\.",
     r"权重来自 `\g<1>`,运行于 \g<2>;第一次生成时加载。"),
    (r"measured preview speed on 2 CPU cores", "按 2 核 CPU 上实测的预览速度估算"),
    (r"model arithmetic at (\d+)% of one H100's bf16 peak, plus ~1 min to load",
     r"按单张 H100 bf16 峰值算力的 \g<1>% 估算,另加约 1 分钟加载"),
    (r"DiT weights", "DiT 权重"),
    (r"KV cache", "KV 缓存"),
    (r"audio encoder \+ VAE", "音频编码器 + VAE"),
    (r"activations", "激活"),
    (r"VAE decode", "VAE 解码"),
    (r"text encoder \(while encoding the prompt\)", "文本编码器(编码提示词时)"),
    (r"DiT blocks \(2 of 40 resident, streamed\)", "DiT 块(40 块中常驻 2 块,流式载入)"),
    (r"DiT non-block weights \(embeddings, audio injector, head\)", "DiT 非块权重(嵌入层、音频注入器、输出头)"),
    (r"KV cache \(one layer, double-buffered\)", "KV 缓存(单层,双缓冲)"),
    (r"blocks in flight \(latents \+ layer inputs\)", "在途块(潜变量 + 层输入)"),
    (r"DiT blocks \(pinned host memory\)", "DiT 块(锁页主机内存)"),
    (r"KV caches \(pinned host memory\)", "KV 缓存(锁页主机内存)"),
    (r"text encoder \(CPU\)", "文本编码器(CPU)"),
    (r"([\d–]+) GB per GPU, ([\d–]+) min \(guide's figures\)", r"每卡 \g<1> GB,\g<2> 分钟(指南数据)"),
    (r"needs 5 × 80 GB GPUs, 2–3 h \(guide's figures\)", "需要 5 张 80 GB GPU,2–3 小时(指南数据)"),
    (r"Multi-GPU \(FSDP, from the guide\): 21\.48 GB per GPU at load \+ 4\.17 GB to unshard = 25\.65 GB per GPU, "
     r"so 24 GB cards \(RTX 4090\) cannot run it\.",
     "多 GPU(FSDP,据指南):加载时每卡 21.48 GB + 反分片 4.17 GB = 每卡 25.65 GB,因此 24 GB 显卡(RTX 4090)无法运行。"),
    (r"The guide says 32 frames per clip; the model works in blocks of 12 frames, so quick uses 36, the nearest valid value\.",
     "指南建议每片段 32 帧;模型以 12 帧为一块生成,因此“快速验证”使用最接近的有效值 36 帧。"),
    (r"(\d+) clips asked for; the audio drives (\d+), so \d+ will be made\.",
     r"设置了 \g<1> 个片段;音频只够 \g<2> 个,因此将生成 \g<2> 个。"),
    (r"The audio is ([\d.]+) s; only the first ([\d.]+) s will be used\.", r"音频长 \g<1> 秒;只会使用前 \g<2> 秒。"),
    (r"(\d) people speak: the video lasts as long as the longest track \(([\d.]+) s\); each shorter track is followed by silence for its person\.",
     r"\g<1> 人说话:视频时长与最长的音轨相同(\g<2> 秒);较短音轨结束后,对应的人保持安静。"),
    (r"Speed options \((.*)\) apply to the model only; the CPU preview ignores them\.",
     r"加速选项(\g<1>)只对真实模型有效;CPU 预览会忽略它们。"),
    (r"CUDA graphs are off: they need a CUDA GPU\.", "CUDA 图已关闭:需要 CUDA GPU。"),
    # one-click fixes' messages (fixes/audio.py)
    (r"Converted the ([\d.]+ kHz) \S+ recording to 16-bit mono WAV at 16 kHz\.",
     r"已将 \g<1> 的录音转换为 16 kHz、16 位单声道 WAV。"),
    (r"Converted the ([\d.]+ kHz) \S+ recording to 16-bit mono WAV at 16 kHz; up-sampling .*",
     r"已将 \g<1> 的录音转换为 16 kHz、16 位单声道 WAV;升采样无法恢复原录音中本就没有的高频,若口型同步不佳,请用 16 kHz 或更高的采样率重新录制。"),
    (r"No speech was found to normalise, so the audio was saved unchanged as 16-bit WAV\.",
     "没有找到可以标准化的语音,音频已原样保存为 16 位 WAV。"),
    (r"(?:Raised|Lowered) speech loudness from (\S+ dBFS) to (\S+ dBFS) \(([+-][\d.]+ dB)[^)]*\)?\), (?:peaks limited to (\S+ dBFS) so nothing clips|peaks at \S+ dBFS, no clipping)\.",
     r"已将语音音量从 \g<1> 调整到 \g<2>(\g<3>),没有削波。"),
    (r"The noise floor is already (\S+ dBFS), so there was nothing to remove .*",
     r"噪声底已经是 \g<1>,无需降噪,音频已原样保存为 16 位 WAV。"),
    (r"Reduced steady background noise: noise floor (\S+ dBFS) → (\S+ dBFS)\.", r"已降低持续的背景噪声:噪声底 \g<1> → \g<2>。"),
    (r"torch\.compile is off: (.*)", r"torch.compile 已关闭:`` \g<1> ``"),
    (r"FP8 linear layers are off: (.*)", r"FP8 线性层已关闭:`` \g<1> ``"),
    (r"The (\w+) attention kernel is off \((.*)\); torch picks one per call\.",
     r"\g<1> 注意力内核已关闭(`` \g<2> ``);由 torch 逐次选择。"),
    (r"Static KV buffers are off: .*", "静态 KV 缓存已关闭:它需要遮罩缓存中未填充的部分,而 CUDA 的 flash 内核不支持遮罩"
     "(选择 auto 或 efficient 注意力即可同时使用)。"),
    (r"The (\w+) attention kernel is off: torch's kernel choice is process-wide, .*",
     r"\g<1> 注意力内核已关闭:torch 的内核选择对整个进程生效,而与 DiT 同时运行的 VAE 解码以 float32 计算注意力,该内核不支持。"),
)]


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
**提示词应采用结构化英文描述,包含以下四个要素**:

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




# ------------------------------------------------------------------------------------------------
# API
# ------------------------------------------------------------------------------------------------
def t(key: str, lang: str | None = DEFAULT_LANGUAGE, **fmt: object) -> str:
    """The text for ``key`` in ``lang`` (unknown language → English); ``fmt`` fills ``{n}``-style fields."""
    entry = UI[key]
    text = entry.get(norm_lang(lang)) or entry[DEFAULT_LANGUAGE]
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


#: Gradio 6.31's own frontend texts that its Chinese locale lacks (it shows the raw key, e.g. the
#: status tracker's "common.complete" after a run); the English is Gradio's.
GRADIO_MISSING: dict[str, dict[str, str]] = {
    "common.complete": {"en": "Complete", "zh": "完成"},
}


def gradio_translations() -> dict[str, dict[str, str]]:
    """``{"en": {key: text}, "zh": {key: text}}`` for ``gr.I18n(**gradio_translations())``."""
    return {lang: {key: entry[lang] for key, entry in {**UI, **GRADIO_MISSING}.items()} for lang in LANGUAGES}


def translate_text(text: str, lang: str | None) -> str:
    """``text`` (a sentence built with measured numbers elsewhere) in ``lang``; unknown forms come back as
    they are, and ``tests/test_i18n.py`` fails on any the app can show."""
    if norm_lang(lang) != "zh":
        return text
    for pattern, zh in TEXT_ZH:
        m = pattern.fullmatch(text)
        if m:
            return m.expand(zh)
    return text


def badge(level: str, lang: str | None) -> str:
    return t(f"badge_{level}", lang)
