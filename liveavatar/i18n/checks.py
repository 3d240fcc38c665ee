"""Chinese for the checklist: each check's name and fix, and its measured values and rules.

Owned by the checks: a check that adds or changes a visible English text adds its Chinese here
(``tests/test_i18n.py`` fails on a check text the Chinese page would show in English).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from liveavatar.checks.result import CheckResult

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"


def norm_lang(lang: str | None) -> str:
    """``lang`` if the studio speaks it, else English (the one place languages are normalised)."""
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


# ------------------------------------------------------------------------------------------------
# Checklist: Chinese name and generic fix per check id
# ------------------------------------------------------------------------------------------------
CHECKS_ZH: dict[str, tuple[str, str]] = {
    # files (studio.py)
    "prompt.too_long": ("提示词大小", "请将提示词缩短到 100–200 词,过长的提示词大部分会被模型忽略。"),
    "image.file": ("参考图像", "请上传、粘贴或拍摄一张单人正脸照片(JPG 或 PNG);若文件无法读取,请换一个文件。"),
    "audio.file": ("语音音频", "请上传语音的 WAV 或 MP3 文件,用麦克风录制一段,或输入要说的话让它朗读(“朗读这段文字”按钮);若文件无法读取,请换一个文件。"),
    # notes on decoding (ui/handlers.py) and hidden characters (checks/prompt.py)
    "image.animated": ("动图", "动图只使用第一帧作为参考图像。如果这一帧不是想要的画面,请把想要的那一帧另存为 JPG 或 PNG 后再上传。"),
    "image.colour": ("颜色", "图像为 CMYK 等非 RGB 颜色模式,已转换为 RGB,颜色可能略有偏差。如预览颜色不对,请导出为 RGB 的 JPG 或 PNG。"),
    "prompt.characters": ("隐藏字符", "提示词中含有不可见的控制字符(通常来自复制粘贴),对模型没有意义。请以纯文本重新输入或粘贴提示词。"),
    # image (checks/image.py)
    "image.format": ("图像类型", "无需处理:应用会自动转换。如想跳过转换,请上传 JPG 或 PNG 格式的图像。"),
    "image.resolution": ("分辨率", "照片比模型生成的视频还小,画面会发虚。请使用短边至少 384 px(512 px 以上最佳)的照片,或先用超分工具(如 Real-ESRGAN)放大,再以人脸为中心裁剪。"),
    "image.faces": ("人脸数量", "未检测到人脸时:如果是卡通或风格化角色,可以直接生成(模型也能驱动手绘和 3D 角色);如果是照片,请换一张只有一张清晰正脸、光照良好、无遮挡的照片。多人合照只有一条语音音轨时,模型可能驱动错误的人:可为每个人添加一条语音音轨(最多 4 人)让他们都说话,或用“以人脸为中心裁剪”只保留一人。"),
    "image.face_centre": ("人脸位置", "请以人脸为中心重新裁剪照片(可用“以人脸为中心裁剪”按钮)。"),
    "image.face_size": ("人脸大小", "请让人脸在画面中占据适当比例:人脸太小时靠近裁剪,太大时保留更多头部和肩部。"),
    "image.pose": ("头部朝向", "请使用正面或轻微侧脸的照片;侧面或背影照会导致重建失败。"),
    "image.exposure": ("曝光", "请使用曝光正常的照片:过暗或过曝都会丢失细节。"),
    "image.lighting": ("光照", "请使用光照均匀、无强烈阴影的照片。"),
    "image.sharpness": ("清晰度", "图像模糊(失焦、运动模糊或小图放大)。请使用对焦清晰的照片,或先用超分工具(如 Real-ESRGAN)处理;模糊的图像会降低还原度和口型同步精度。"),
    "image.orientation": ("方向", "无需处理:应用会按 EXIF 信息自动旋转图像。"),
    "image.alpha": ("透明度", "无需处理:透明区域会被填充为纯色背景。如想自行控制背景,请上传不含透明通道的 JPG 或 PNG。"),
    # audio (checks/audio.py)
    "audio.format": ("音频格式", "无需处理:应用会解码并转换音频。推荐直接使用 WAV 或 MP3。"),
    "audio.duration": ("音频时长", "请上传时长合适的录音:太短无法驱动一个片段;太长时只会使用前面一部分,可增加片段数或选择“整段音频”。"),
    "audio.silence": ("静音与停顿", "请保持语句连贯,避免频繁停顿和过长的静音段;若整段静音,请检查麦克风或所选文件后重新录制。"),
    "audio.sample_rate": ("采样率", "采样率应 ≥16kHz。可用“转换为 16 kHz 单声道”按钮转换,但升采样无法恢复录音中缺失的高频,最好用更高采样率重新录制。"),
    "audio.bit_depth": ("位深", "无需处理:音频会被转换为 16 位。也可自行导出为 16 位 WAV。"),
    "audio.loudness": ("语音音量", "语音音量过低:模型会把音量归一化,这么小声的录音里的底噪和量化噪声会随人声一起被放大。请靠近麦克风或调高输入增益重新录制;“音量标准化”按钮只能让它更容易听清,无法去除这些噪声。"),
    "audio.noise": ("背景噪声", "背景噪声会让人物在无人说话时也动嘴(语音应比底噪高至少 12 dB)。请使用“音频降噪”按钮,或在更安静的环境中录制。"),
    "audio.clipping": ("削波失真", "录音存在削波失真,音量标准化无法修复。请调低输入音量或远离麦克风后重新录制。"),
    "audio.channels": ("声道", "无需处理:多声道音频会被混合为单声道。若只有一个声道有人声,单独导出该声道效果更好。"),
    # prompt (checks/prompt.py)
    "prompt.length": ("提示词长度", "提示词过短(少于 30 词)时,请补充外貌服饰、表情手势、背景光照和风格参考,100–200 词最佳;超过 200 词可能导致部分信息被忽略。"),
    "prompt.vague_words": ("模糊词汇", "避免模糊词汇(如“nice”、“beautiful”),改为具体描述你想看到的内容,例如 “beautiful woman” → “woman with long wavy auburn hair and green eyes”。"),
    "prompt.contradictions": ("矛盾描述", "不要出现矛盾描述(如 “happy but sad”):每组矛盾只保留一方;若是随时间变化,只描述最想要的状态。"),
    "prompt.elements": ("提示词结构", "请用结构化英文补全四个要素:人物特征、动作状态、环境设定、艺术风格。"),
    # consistency (checks/consistency.py)
    "consistency.emotion": ("提示词与音频情绪", "提示词中的语气描述应与音频一致:音频平淡时不要要求“兴奋、大笑”,音频激昂时不要描述“平静、轻声”;可修改提示词,或按所需语气重新录音。"),
    # typed speech (tts.py)
    "tts.text": ("要朗读的文字", "请输入数字人要说的话(纯文字):表情符号、符号和标签不会被朗读;最多 2,000 词(一个汉字算一个词,约 13 分钟语音),更长的文字请分段,每段生成一个视频。"),
    "tts.markup": ("文字中的标记", "HTML/SSML 标签会被移除,不会被朗读;不支持 SSML 指令(停顿、重音、语速),请改用语速设置。"),
    "tts.symbols": ("表情与符号", "表情符号和其他符号不会被朗读;如果它们的意思重要,请用文字写出来。"),
    "tts.language": ("语言", "英文和中文可以朗读;中文由离线的普通话合成语音朗读,清晰但明显是合成音。其他文字会被跳过或读错。想要自然的声音或其他语言,请上传录音。"),
    # several people, one speech track each (checks/people.py, issue 14)
    "people.count": ("人数与音轨", "每条语音音轨需要照片中的一个人(2–4 人):人脸数应等于音轨数。请删除多余的音轨,或为每个人添加一条音轨让他们都说话,或换一张人数合适的照片。"),
    "people.order": ("谁说哪条音轨", "请为每条语音音轨选择不同的人。"),
    "people.face_size": ("人脸大小", "此人的脸在画面中太小或太大:太小时嘴部只有几个像素,请使用离人更近的照片,或在保留所有说话者的前提下裁剪得更紧;太大时请使用拍得更远、能看到每个人头部和肩膀的照片。"),
    "people.pose": ("头部朝向", "此人的头部转向侧面,模型难以重建。请使用每个人都正对或轻微侧对镜头、双眼和两侧嘴角都可见的照片。"),
    "people.exposure": ("曝光", "此人的脸过暗或过曝,细节会丢失。请使用光照更均匀的照片,或在编辑器中调整曝光。"),
    "people.apart": ("人脸间距", "人脸靠得太近,无法区分:另一个人的声音也会驱动这张嘴(或者都不驱动)。请使用人脸相距更远或更大的照片;嘴部落在视频画面之外时,请使用每张说话的脸都在画面内的照片。"),
    "people.silent": ("静音音轨", "有音轨是静音的,对应的人的嘴不会动。请检查文件或麦克风,重新录制或上传此人的语音。"),
    "people.lengths": ("音轨时长", "无需处理:视频时长取最长的音轨,较短音轨的人在其音轨结束后保持沉默。如希望同时结束,请裁剪较长的音轨。"),
    "consistency.people": ("提示词与图像人数", "提示词描述的人物应与图像一致:图像只有一人时只描述此人;图像有多人时请裁剪到要说话的那个人,或在提示词中说明是谁在说话。"),
}

_INTERNAL_ERROR_ZH = "此项未能自动检查(内部错误),请自行确认输入,或换一个文件再试。"


# ------------------------------------------------------------------------------------------------
# Checklist: measured values and rules. The checks write them in English from a small set of
# templates; these phrase rules turn them into Chinese, applied in order (longer phrases first).
# Numbers, units (px, dB, dBFS, kHz, Hz, s, %, °) and format names (JPG, PNG, WAV, MP3, RGB, ...)
# stay as they are; words quoted from the user's prompt stay quoted. ``tests/checks/test_zh.py``
# fails when a check produces English that no rule covers.
# ------------------------------------------------------------------------------------------------
_EXIF_ZH = {
    "upright as stored": "按存储方向正立",
    "mirrored left-right": "左右镜像",
    "rotated 180°": "旋转 180°",
    "mirrored top-bottom": "上下镜像",
    "mirrored and rotated 90° counter-clockwise": "镜像并逆时针旋转 90°",
    "rotated 90° clockwise": "顺时针旋转 90°",
    "mirrored and rotated 90° clockwise": "镜像并顺时针旋转 90°",
    "rotated 90° counter-clockwise": "逆时针旋转 90°",
}
_ELEMENTS_ZH = {"character": "人物特征", "action / state": "动作状态", "environment": "环境设定", "style": "艺术风格"}


def _elements_zh(listed: str) -> str:
    return "、".join(_ELEMENTS_ZH.get(e.strip(), e.strip()) for e in listed.split(","))


def _quoted_list_zh(listed: str) -> str:
    return "、".join(f"“{w.strip()}”" for w in listed.split(",") if w.strip())


_PHRASES: list[tuple[str, str | Callable[[re.Match[str]], str]]] = [
    # --- shared -------------------------------------------------------------------------------
    (r"not measured \(error: [^)]*\)", "未测量(内部错误)"),
    (r"could not be (?:measured|checked)", "未能检查"),
    (r"^not measured$", "未测量"),
    (r"not measured \(", "未测量("),
    (r"\bunknown length\b", "未知时长"),
    (r"^unknown$", "未知"),
    (r"\bUNKNOWN\b", "未知格式"),
    (r"(\d+) h (\d+) min (\d+) s\b", r"\1 小时 \2 分 \3 s"),
    (r"(\d+) min (\d+) s\b", r"\1 分 \2 s"),
    (r"\(digital silence\)", "(数字静音)"),
    # --- typed speech (tts.py) -----------------------------------------------------------------
    (r"^([\d,]+) words?$", r"\1 词"),
    (r"^([\d,]+) words? \(about (\d+) min of speech\)$", r"\1 词(约 \2 分钟语音)"),
    (r"^([\d,]+) characters? \(about (\d+) min of speech\)$", r"\1 个字(约 \2 分钟语音)"),
    (r"^([\d,]+) characters?$", r"\1 个字"),
    (r"^1 to ([\d,]+) words of English or Chinese text \(a Chinese character counts as one\)$",
     r"1 到 \1 词的英文或中文文字(一个汉字算一个词)"),
    (r"^only markup, no words$", "只有标记,没有文字"),
    (r"^only emoji or symbols, no words$", "只有表情符号或符号,没有文字"),
    (r"^(\d+) tags? removed$", r"已移除 \1 个标签"),
    (r"^plain text$", "纯文本"),
    (r"^(\d+) removed$", r"已移除 \1 个"),
    (r"^words$", "文字"),
    (r"^Chinese \(Mandarin\)$", "中文(普通话)"),
    (r"^another script$", "其他文字"),
    (r"^English or Chinese \(Mandarin\)$", "英文或中文(普通话)"),
    # --- files (studio.py) --------------------------------------------------------------------
    (r"([\d,]+) characters", r"\1 个字符"),
    (r"^no image$", "没有图像"),
    (r"^one portrait photo$", "一张人像照片"),
    (r"^unreadable$", "无法读取"),
    (r"^a JPG or PNG photo$", "一张 JPG 或 PNG 照片"),
    (r"^no audio$", "没有音频"),
    (r"^a speech recording$", "一段语音录音"),
    (r"^a WAV or MP3 recording$", "一段 WAV 或 MP3 录音"),
    # --- several people (checks/people.py): the person prefix first, then the per-face rules below
    (r"person (\d+) \(track (\d+)\): (\d+) of (\d+) mouth tokens? theirs alone",
     r"第 \1 人(音轨 \2):嘴部 \4 个词元中 \3 个只属于此人"),
    (r"person (\d+) \(track (\d+)\): mouth outside the video frame", r"第 \1 人(音轨 \2):嘴部在视频画面之外"),
    (r"^person (\d+) \(track (\d+)\): ", r"第 \1 人(音轨 \2):"),
    (r"^person (\d+): ", r"第 \1 人:"),
    (r"(?<=\):)face: ", "人脸:"),
    (r"(?<=人:)face: ", "人脸:"),
    (r"^(\d+) faces? found, (\d+) speech tracks?$", r"找到 \1 张人脸,\2 条语音音轨"),
    (r"^one face per speech track, (\d+) to (\d+) people$", r"每条语音音轨对应一张人脸,\1 到 \2 人"),
    (r"^tracks 1–(\d+) drive people (.+)$", r"音轨 1–\1 依次驱动第 \2 人"),
    (r"^track order unreadable$", "无法读取音轨顺序"),
    (r"^each track drives a different person, numbered 1–(\d+) from the left$",
     r"每条音轨驱动不同的人(从左到右编号 1–\1)"),
    (r"^each person's mouth covers at least one token \((\d+) × (\d+) px of the (\d+) × (\d+) video\) that only their own track moves$",
     r"每个人的嘴部至少覆盖一个只由自己的音轨驱动的词元(\3 × \4 视频中的 \1 × \2 px)"),
    (r"track (\d+) silent \(loudest moment ", r"音轨 \1 静音(最响处 "),
    (r"^some speech above (\S+) dBFS in every track$", r"每条音轨都有高于 \1 dBFS 的语音"),
    (r"^no silent track$", "没有静音的音轨"),
    (r"no track measured", "没有测量任何音轨"),
    (r"fewer than two tracks measured", "测量的音轨少于两条"),
    (r"^tracks of the same length \(the video lasts as long as the longest\)$", "各音轨时长相同(视频时长取最长的音轨)"),
    (r"\btrack (\d+): ", r"音轨 \1:"),
    (r"whole image \(several people\)", "整幅图像(多人)"),
    # --- image --------------------------------------------------------------------------------
    (r", (\d+)-bit reduced to 8-bit", r",\1 位已降为 8 位"),
    (r"; converted from (\S+) to PNG for the model", r";已从 \1 转换为 PNG 供模型使用"),
    (r"short side at least (\d+) px \(the model's output height\); (\d+) px or more is best",
     r"短边至少 \1 px(模型输出的高度);\2 px 以上最佳"),
    (r"^exactly 1 face$", "恰好 1 张人脸"),
    (r"^(\d+) faces?$", r"\1 张人脸"),
    (r"([\d.]+) of the width (left|right), ([\d.]+) of the height (above|below) centre",
     lambda m: f"人脸中心偏{'左' if m[2] == 'left' else '右'} {m[1]} 倍宽度、偏{'上' if m[4] == 'above' else '下'} {m[3]} 倍高度"),
    (r"≤ ([\d.]+) of the width left/right, ≤ ([\d.]+) of the height above and ≤ ([\d.]+) below the centre",
     r"左右偏离 ≤ \1 倍宽度,向上 ≤ \2 倍高度,向下 ≤ \3 倍高度"),
    (r"too far left", "太靠左"),
    (r"too far right", "太靠右"),
    (r"too close to the top", "太靠上"),
    (r"too low", "太靠下"),
    (r"face is ([\d.]+) of the image height \((\d+) of (\d+) px\)", r"人脸占图像高度的 \1(\3 px 中的 \2 px)"),
    (r": too small", ":太小"),
    (r": too large", ":太大"),
    (r"([\d.]+) – ([\d.]+) of the image height", r"占图像高度的 \1 – \2"),
    (r"\|yaw\| ≤ (\d+)° \(frontal or slightly turned\)", r"左右转头 ≤ \1°(正面或轻微侧脸)"),
    (r"no face landmarks found", "未找到面部关键点"),
    (r"(\d+)° yaw, frontal", r"转头 \1°,正面"),
    (r"(\d+)° yaw, turned towards image right", r"转头 \1°,朝画面右侧"),
    (r"(\d+)° yaw, turned towards image left", r"转头 \1°,朝画面左侧"),
    (r"whole image \(no face\)", "整幅图像(未检测到人脸)"),
    (r"^face: ", "人脸:"),
    (r"mean luma (\d+), ([\d.]+%) near black, ([\d.]+%) near white", r"平均亮度 \1,接近全黑 \2,接近全白 \3"),
    (r"\(too dark\)", "(过暗)"),
    (r"\(over-exposed\)", "(过曝)"),
    (r"mean luma (\d+)–(\d+) of 255; ≤ ([\d.]+%) of pixels ≤ (\d+) \(crushed\) or ≥ (\d+) \(blown out\)",
     r"平均亮度 \1–\2(满值 255);亮度 ≤ \4(死黑)或 ≥ \5(过曝)的像素 ≤ \3"),
    (r"empty image", "空图像"),
    (r"image too small", "图像太小"),
    (r"left/right ratio ([\d.]+), contrast \(luma std\) (\d+)", r"左右亮度比 \1,对比度(亮度标准差)\2"),
    (r"\(harsh shadow on the left\)", "(左侧有强烈阴影)"),
    (r"\(harsh shadow on the right\)", "(右侧有强烈阴影)"),
    (r"\(flat, low contrast\)", "(平淡,对比度低)"),
    (r"left/right brightness ratio ≤ ([\d.]+); luma standard deviation ≥ (\d+)", r"左右亮度比 ≤ \1;亮度标准差 ≥ \2"),
    (r"edge sharpness ≥ ([\d.]+) \(Laplacian energy / gradient energy on the face resized to (\d+) px high\)",
     r"边缘清晰度 ≥ \1(拉普拉斯能量 / 梯度能量,人脸缩放到 \2 px 高)"),
    (r"edge sharpness ≥ ([\d.]+) \(Laplacian energy / gradient energy on the image resized to (\d+) px high\)",
     r"边缘清晰度 ≥ \1(拉普拉斯能量 / 梯度能量,整幅图像缩放到 \2 px 高)"),
    (r"flat or tiny region", "区域过于平坦或太小"),
    (r"\(blurred\)", "(模糊)"),
    (r"^upright \(no EXIF rotation\)$", "正立(无 EXIF 旋转)"),
    (r"^stored upright \(EXIF orientation 1\)$", "按正立方向存储(EXIF 方向 1)"),
    (r"EXIF orientation (\d+): (.+) automatically",
     lambda m: f"EXIF 方向 {m[1]}:已自动{_EXIF_ZH.get(m[2], m[2])}"),
    (r"^opaque$", "不透明"),
    (r"^transparent background flattened onto white$", "透明背景已填充为白色"),
    (r"^no transparency$", "无透明区域"),
    (r"animated (\S+), (\d+) frames", r"动图 \1,共 \2 帧"),
    (r"^one still photo$", "一张静态照片"),
    (r"CMYK \(print colours\)", "CMYK(印刷色)"),
    (r" converted to RGB$", " 已转换为 RGB"),
    (r"^an RGB photo$", "一张 RGB 照片"),
    # --- audio --------------------------------------------------------------------------------
    (r" \(decoded and converted by the app\)", "(应用已解码并转换)"),
    (r"^(\S+) or (\S+)$", r"\1 或 \2"),
    (r"^empty \(0 s\)$", "空(0 s)"),
    (r"at least one clip \(([^)]*)\)", r"至少一个片段(\1)"),
    (r"longer than 0 s", "长于 0 s"),
    (r", at most the planned (.+)$", r",最多为计划的 \1"),
    (r"some speech above (\S+) dBFS; pauses inside the speech ≤ (\S+) s; silence before/after the speech ≤ (\S+) s",
     r"有高于 \1 dBFS 的语音;语音中的停顿 ≤ \2 s;语音前后的静音 ≤ \3 s"),
    (r"silent \(loudest moment (.*)\)$", r"静音(最响处 \1)"),
    (r"longest pause (.+?); (.+?) before and (.+?) after the speech", r"最长停顿 \1;语音前 \2,语音后 \3"),
    (r"\bno audio\b(?! yet)", "无音频"),
    (r"(\d+)-bit PCM", r"\1 位 PCM"),
    (r"(\d+)-bit float", r"\1 位浮点"),
    (r"8-bit µ-law", "8 位 µ-law"),
    (r"8-bit A-law", "8 位 A-law"),
    (r"not applicable \((.+) is compressed\)", r"不适用(\1 为压缩格式)"),
    (r"^16-bit \(where the format has a bit depth\)$", "16 位(对有位深的格式而言)"),
    (r"speech RMS ≥ (\S+) dBFS \(measured over speech, not pauses\); the model's audio encoder normalises the level, so louder is not better",
     r"语音 RMS ≥ \1 dBFS(只统计语音,不含停顿);模型的音频编码器会把音量归一化,音量更大并不更好"),
    (r"no speech found in the audio", "音频中未找到语音"),
    (r"no speech found", "未找到语音"),
    (r"noise floor (.+?), speech (-?[\d.]+) dB above it", r"底噪 \1,语音比它高 \2 dB"),
    (r"^noise floor ", "底噪 "),
    (r"speech at least (\S+) dB above the noise floor \(quietest ([\d.]+%) of 20 ms frames\)",
     r"语音比底噪至少高 \1 dB(底噪取最安静的 \2 的 20 ms 帧)"),
    (r"([\d.]+%) of samples clipped", r"\1 的采样削波"),
    (r"≤ ([\d.]+%) of samples at full scale", r"满幅采样 ≤ \1"),
    (r"^mono$", "单声道"),
    (r"^stereo$", "立体声"),
    (r"^(\d+) channels$", r"\1 声道"),
    (r"\+inf dBFS", "+∞ dBFS"),
    # --- prompt -------------------------------------------------------------------------------
    (r"^empty$", "空"),
    (r"^(\d+) words?$", r"\1 词"),
    (r"(\d+)–(\d+) words \((\d+)–(\d+) is the guide's advice\)", r"\1–\2 词(指南建议 \3–\4 词)"),
    (r"^none$", "无"),
    (r"none of: (.*), …$", lambda m: f"不含以下词:{_quoted_list_zh(m[1])}…"),
    (r"no opposite pairs \(e\.g\. (.*)\)$",
     lambda m: "不含相互矛盾的描述(如 " + "、".join(f"“{p.strip()}”" for p in m[1].split(",")) + ")"),
    (r'"([^"]*)" vs "([^"]*)"', r"“\1” 与 “\2”"),
    (r"^all four present$", "四个要素齐全"),
    (r"^missing: (.*)$", lambda m: "缺少:" + _elements_zh(m[1])),
    (r"^all of: (.*)$", lambda m: "全部包含:" + _elements_zh(m[1])),
    (r"(\d+) kind\(s\) of invisible control character: ", r"\1 种不可见控制字符:"),
    (r" and (\d+) more$", r" 等(另有 \1 种)"),
    (r"^printable text \(tabs and line breaks are fine\)$", "可打印文本(制表符和换行可以)"),
    # --- consistency --------------------------------------------------------------------------
    (r"lively prompt vs\. quiet \(< (\S+) dBFS\) and flat \(< (\S+) dB\) audio; calm prompt vs\. loud \(> (\S+) dBFS\) and lively \(> (\S+) dB\) audio",
     r"活泼的提示词对比安静(< \1 dBFS)且平淡(< \2 dB)的音频;平静的提示词对比响亮(> \3 dBFS)且起伏大(> \4 dB)的音频"),
    (r"no audio yet", "尚无音频"),
    (r"the prompt names no tone of voice", "提示词未提到语气"),
    (r"^prompt: ", "提示词:"),
    (r"; audio: quiet and flat \(", ";音频:安静且平淡("),
    (r"; audio: loud and lively \(", ";音频:响亮且起伏大("),
    (r"; audio: ", ";音频:"),
    (r"speech (\S+) dBFS, loudness variation ([\d.]+) dB", r"语音 \1 dBFS,音量起伏 \2 dB"),
    (r"^the number of people in the prompt matches the faces in the image$", "提示词中的人数与图像中的人脸数一致"),
    (r"no face count from the image", "图像中没有人脸数"),
    (r"prompt mentions several people", "提示词提到多个人"),
    (r"prompt describes one person", "提示词描述一个人"),
    (r"prompt does not say how many people", "提示词未说明人数"),
    (r"; (\d+) faces? in the image", r";图像中有 \1 张人脸"),
    # --- leftovers from the rules above: parentheses and separators in Chinese style -----------
    (r"(?<=[\u4e00-\u9fff]) \(", "("),
    (r" \(", "("),
    (r"(?<=[\u4e00-\u9fff]), (?=[\u4e00-\u9fff])", "、"),
]
_TRACK_PREFIX = re.compile(r"track (\d+): ")
_COMPILED: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(pattern), repl) for pattern, repl in _PHRASES
]


def translate_measure(text: str, lang: str | None) -> str:
    """A check's ``value`` or ``threshold`` in ``lang`` (numbers, units and quoted words unchanged)."""
    if norm_lang(lang) != "zh" or not text:
        return text
    track = _TRACK_PREFIX.match(text)
    if track:  # one of several people's tracks (studio.track_checks): the measure itself as for one track
        return f"音轨 {track.group(1)}:" + translate_measure(text[track.end():], lang)
    out = text
    for pattern, repl in _COMPILED:
        out = pattern.sub(repl, out)
    return out


def check_name(check_id: str, lang: str, default: str) -> str:
    if norm_lang(lang) == "zh" and check_id in CHECKS_ZH:
        return CHECKS_ZH[check_id][0]
    return default


def translate_result(result: CheckResult, lang: str | None) -> CheckResult:
    """``result`` in ``lang``: name and fix from :data:`CHECKS_ZH`, value and threshold through the
    phrase rules (:func:`translate_measure`), so the Chinese page shows no English.

    For Chinese the fix is the check's Chinese generic fix (nothing in English), and stays empty when the check
    passed. Unknown ids and English come back unchanged.
    """
    if norm_lang(lang) != "zh" or result.id not in CHECKS_ZH:
        return result
    name, fix = CHECKS_ZH[result.id]
    if not result.fix:
        new_fix = ""
    elif result.fix.startswith("Internal error") or "could not be checked automatically" in result.fix:
        new_fix = _INTERNAL_ERROR_ZH
    else:
        new_fix = fix
    return replace(
        result,
        name=name,
        fix=new_fix,
        value=translate_measure(result.value, lang),
        threshold=translate_measure(result.threshold, lang),
    )
