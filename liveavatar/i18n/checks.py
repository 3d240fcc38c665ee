"""Chinese for the checklist: each check's name and fix, and its measured values and rules.

Owned by the checks: a check that adds or changes a visible English text adds its Chinese here
(``tests/test_i18n.py`` fails on a check text the Chinese page would show in English).
"""

from __future__ import annotations

from dataclasses import replace

from liveavatar.checks.result import CheckResult

LANGUAGES = ("en", "zh")


def _norm(lang: str | None) -> str:
    return lang if lang in LANGUAGES else "en"


# ------------------------------------------------------------------------------------------------
# Checklist: Chinese name and generic fix per check id
# ------------------------------------------------------------------------------------------------
CHECKS_ZH: dict[str, tuple[str, str]] = {
    # files (studio.py)
    "prompt.too_long": ("提示词大小", "请将提示词缩短到 100–200 词,过长的提示词大部分会被模型忽略。"),
    "image.file": ("参考图像", "请上传、粘贴或拍摄一张单人正脸照片(JPG 或 PNG);若文件无法读取,请换一个文件。"),
    "audio.file": ("语音音频", "请上传语音的 WAV 或 MP3 文件,或用麦克风录制一段;若文件无法读取,请换一个文件。"),
    # notes on decoding (ui/handlers.py) and hidden characters (checks/prompt.py)
    "image.animated": ("动图", "动图只使用第一帧作为参考图像。如果这一帧不是想要的画面,请把想要的那一帧另存为 JPG 或 PNG 后再上传。"),
    "image.colour": ("颜色", "图像为 CMYK 等非 RGB 颜色模式,已转换为 RGB,颜色可能略有偏差。如预览颜色不对,请导出为 RGB 的 JPG 或 PNG。"),
    "prompt.characters": ("隐藏字符", "提示词中含有不可见的控制字符(通常来自复制粘贴),对模型没有意义。请以纯文本重新输入或粘贴提示词。"),
    # image (checks/image.py)
    "image.format": ("图像类型", "无需处理:应用会自动转换。如想跳过转换,请上传 JPG 或 PNG 格式的图像。"),
    "image.resolution": ("分辨率", "请使用更大的照片(分辨率 ≥512×512),或先用超分工具(如 Real-ESRGAN)提升分辨率,再以人脸为中心裁剪。"),
    "image.faces": ("人脸数量", "请使用只有一张清晰人脸的照片:正面、光照良好、无遮挡;多人合照会让模型混淆主体,可用“以人脸为中心裁剪”只保留一人。"),
    "image.face_centre": ("人脸位置", "请以人脸为中心重新裁剪照片(可用“以人脸为中心裁剪”按钮)。"),
    "image.face_size": ("人脸大小", "请让人脸在画面中占据适当比例:人脸太小时靠近裁剪,太大时保留更多头部和肩部。"),
    "image.pose": ("头部朝向", "请使用正面或轻微侧脸的照片;侧面或背影照会导致重建失败。"),
    "image.exposure": ("曝光", "请使用曝光正常的照片:过暗或过曝都会丢失细节。"),
    "image.lighting": ("光照", "请使用光照均匀、无强烈阴影的照片。"),
    "image.sharpness": ("清晰度", "请使用对焦清晰的照片,或先用超分工具(如 Real-ESRGAN)处理;模糊的图像会降低面部还原度和口型同步精度。"),
    "image.orientation": ("方向", "无需处理:应用会按 EXIF 信息自动旋转图像。"),
    "image.alpha": ("透明度", "无需处理:透明区域会被填充为纯色背景。如想自行控制背景,请上传不含透明通道的 JPG 或 PNG。"),
    # audio (checks/audio.py)
    "audio.format": ("音频格式", "无需处理:应用会解码并转换音频。推荐直接使用 WAV 或 MP3。"),
    "audio.duration": ("音频时长", "请上传时长合适的录音:太短无法驱动一个片段;太长时只会使用前面一部分,可增加片段数或选择“整段音频”。"),
    "audio.silence": ("静音与停顿", "请保持语句连贯,避免频繁停顿和过长的静音段;若整段静音,请检查麦克风或所选文件后重新录制。"),
    "audio.sample_rate": ("采样率", "采样率应 ≥16kHz。可用“转换为 16 kHz 单声道”按钮转换,但升采样无法恢复录音中缺失的高频,最好用更高采样率重新录制。"),
    "audio.bit_depth": ("位深", "无需处理:音频会被转换为 16 位。也可自行导出为 16-bit WAV。"),
    "audio.loudness": ("语音音量", "音量偏低会削弱口型动作(平均 RMS 应 ≥ -18dB)。请使用“音量标准化”按钮,或靠近麦克风重新录制。"),
    "audio.noise": ("背景噪声", "背景噪声会让人物在无人说话时也动嘴(噪声水平应尽量低于 -30dB)。请使用“音频降噪”按钮,或在更安静的环境中录制。"),
    "audio.clipping": ("削波失真", "录音存在削波失真,音量标准化无法修复。请调低输入音量或远离麦克风后重新录制。"),
    "audio.channels": ("声道", "无需处理:多声道音频会被混合为单声道。若只有一个声道有人声,单独导出该声道效果更好。"),
    # prompt (checks/prompt.py)
    "prompt.length": ("提示词长度", "请将提示词控制在 100–200 词之间:过短时补充外貌服饰、表情手势、背景光照和风格参考;过长可能导致部分信息被忽略。"),
    "prompt.vague_words": ("模糊词汇", "避免模糊词汇(如“nice”、“beautiful”),改为具体描述你想看到的内容,例如 “beautiful woman” → “woman with long wavy auburn hair and green eyes”。"),
    "prompt.contradictions": ("矛盾描述", "不要出现矛盾描述(如 “happy but sad”):每组矛盾只保留一方;若是随时间变化,只描述最想要的状态。"),
    "prompt.elements": ("提示词结构", "请用结构化英文补全四个要素:人物特征、动作状态、环境设定、艺术风格。"),
    # consistency (checks/consistency.py)
    "consistency.emotion": ("提示词与音频情绪", "提示词中的语气描述应与音频一致:音频平淡时不要要求“兴奋、大笑”,音频激昂时不要描述“平静、轻声”;可修改提示词,或按所需语气重新录音。"),
    "consistency.people": ("提示词与图像人数", "提示词描述的人物应与图像一致:图像只有一人时只描述此人;图像有多人时请裁剪到要说话的那个人,或在提示词中说明是谁在说话。"),
}

_INTERNAL_ERROR_ZH = "此项未能自动检查(内部错误),请自行确认输入,或换一个文件再试。"


def check_name(check_id: str, lang: str, default: str) -> str:
    if _norm(lang) == "zh" and check_id in CHECKS_ZH:
        return CHECKS_ZH[check_id][0]
    return default


def translate_result(result: CheckResult, lang: str | None) -> CheckResult:
    """``result`` with its name and fix in ``lang``; ``value`` and ``threshold`` are kept exactly as measured.

    For Chinese the fix is the check's Chinese generic fix (nothing in English), and stays empty when the check
    passed. Unknown ids and English come back unchanged.
    """
    if _norm(lang) != "zh" or result.id not in CHECKS_ZH:
        return result
    name, fix = CHECKS_ZH[result.id]
    if not result.fix:
        new_fix = ""
    elif result.fix.startswith("Internal error") or "could not be checked automatically" in result.fix:
        new_fix = _INTERNAL_ERROR_ZH
    else:
        new_fix = fix
    return replace(result, name=name, fix=new_fix)
