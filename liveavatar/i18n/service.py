"""Texts of the server's own services (the model-weights download, hosting), merged into ``UI``."""

from __future__ import annotations

SERVICE_UI: dict[str, dict[str, str]] = {
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
}
