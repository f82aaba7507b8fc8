"""Checking one answer against its field: a clean value or a friendly message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.applications.formspec import FieldSpec
from bot.privacy import pii

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_NAME_RE = re.compile(r"[\u4e00-\u9fa5A-Za-z·•.\s]{2,30}")
_NAME_PREFIX = re.compile(r"^(我(的名字)?(叫|系|是)|名字(是|叫)?|姓名(是|叫)?|叫|佢叫|[:：\s])+")
_DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号號]?")
_SHORT_DATE_RE = re.compile(r"(?<!\d)(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?")
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "昨天": -1, "琴日": -1, "尋日": -1, "寻日": -1,
                  "前天": -2, "明天": 1, "听日": 1, "聽日": 1, "后天": 2, "後天": 2}
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_NOT_NAME_RE = re.compile(r"[？?吗呢啊吧]|什么|怎么|哪|申请|办理|我要|不用|没有|不知道|唔知")
SKIP_WORDS = ("没有", "無", "无", "跳过", "不填", "暂无", "冇")


@dataclass(frozen=True)
class Checked:
    value: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def id_birth_date(id_number: str) -> date | None:
    digits = id_number[6:14] if len(id_number) == 18 else "19" + id_number[6:12]
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def check_id_number(text: str, today: date) -> Checked:
    """GB 11643-1999: 18 characters, ISO 7064 MOD 11-2 check digit, a real birth date.

    The number is what bot.privacy.pii finds, as the vault does: an answer the vault
    would not have recognised is never accepted."""
    found = [f for f in pii.find(text) if f.kind == pii.ID]
    v = found[0].value if len(found) == 1 else ""
    if not re.fullmatch(r"\d{17}[\dX]", v):
        n = len(v.rstrip("X")) if v else pii.digits_in(text)
        got = f"您输入的是{n}位，" if n else ""
        return Checked(error=f"身份证号应为18位（最后一位可能是X），{got}请再核对一下。")
    total = sum(int(c) * w for c, w in zip(v[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != v[17]:
        return Checked(error="这个身份证号的校验位对不上，可能有一位输错了，请再核对一下。")
    born = id_birth_date(v)
    if born is None or born > today or born.year < 1890:
        return Checked(error="这个身份证号里的出生日期不正确，请再核对一下。")
    return Checked(v)


def check_phone(text: str) -> Checked:
    """An 11-digit mobile number, as bot.privacy.pii finds it (same rule as the vault)."""
    found = [f for f in pii.find(text) if f.kind == pii.PHONE]
    v = found[0].value if len(found) == 1 else ""
    if not re.fullmatch(r"1[3-9]\d{9}", v):
        return Checked(error="手机号应为1开头的11位数字，请重新输入。")
    return Checked(v)


def parse_date(text: str, today: date) -> date | None:
    t = text.strip()
    for word, delta in _RELATIVE_DAYS.items():
        if word in t:
            return today + timedelta(days=delta)
    m = _DATE_RE.search(t)
    if m:
        y, mo, d = (int(g) for g in m.groups())
    else:
        m8 = re.search(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)", t)
        m = _SHORT_DATE_RE.search(t)
        if m8:
            y, mo, d = (int(g) for g in m8.groups())
        elif m:
            y, mo, d = today.year, int(m.group(1)), int(m.group(2))
        else:
            return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None


def show_date(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.year}年{d.month}月{d.day}日"


def check_date(spec: FieldSpec, text: str, values: dict, today: date) -> Checked:
    d = parse_date(text, today)
    if d is None:
        return Checked(error="这个日期我没看懂，请按“2026年11月20日”这样输入。")
    if d.year < 1890:
        return Checked(error="这个日期太早了，请再核对一下年份。")
    if spec.not_future and d > today:
        return Checked(error=f"{spec.label}不能晚于今天，请再核对一下。")
    if spec.not_past and d < today:
        return Checked(error=f"{spec.label}不能早于今天，请重新选择。")
    if spec.after_birth_of and values.get(spec.after_birth_of):
        born = id_birth_date(values[spec.after_birth_of])
        if born and d < born:
            return Checked(error=f"{spec.label}不能早于出生日期（{born.year}年{born.month}月{born.day}日），"
                                 "请再核对一下。")
    return Checked(d.isoformat())


def check_name(text: str) -> Checked:
    v = _NAME_PREFIX.sub("", text.strip()).strip(" 。.!！")
    if re.search(r"叫|名字是|姓名是|名系|是|系|：|:", v):  # "宝宝叫王小明", "佢个名系陈大文"
        v = re.split(r"叫|名字是|姓名是|名系|是|系|：|:", v)[-1].strip(" 。.!！")
    han_only = re.fullmatch(r"[\u4e00-\u9fa5]+", v) is not None
    if (not _NAME_RE.fullmatch(v) or not re.search(r"[\u4e00-\u9fa5A-Za-z]", v)
            or (han_only and len(v) > 6) or _NOT_NAME_RE.search(v)):
        return Checked(error="姓名请用汉字或字母（2–6个汉字，少数民族姓名可用“·”），请重新输入。")
    return Checked(v)


def check_uscc(v: str) -> bool:
    """GB 32100-2015 统一社会信用代码 check character."""
    if not re.fullmatch(f"[{_USCC_CHARS}]{{18}}", v):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(v[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == v[17]


def check_code(spec: FieldSpec, text: str) -> Checked:
    v = re.sub(r"\s", "", text).upper()
    example = f"，例如 {spec.example}" if spec.example else ""
    if spec.pattern:
        m = re.search(spec.pattern, v)
        if not m:
            return Checked(error=f"{spec.label}格式不对{example}，请再核对一下。")
        v = m.group(0)
    if spec.id.endswith("uscc") and not check_uscc(v):
        return Checked(error=f"这个{spec.label}的校验位对不上，请再核对一下{example}。")
    return Checked(v)


def check_choice(spec: FieldSpec, text: str) -> Checked:
    t = text.strip()
    m = re.fullmatch(r"\s*(\d{1,2})\s*", t)
    if m and 1 <= int(m.group(1)) <= len(spec.options):
        return Checked(spec.options[int(m.group(1)) - 1])
    hits = [o for o in spec.options if o in t]
    hits += [o for w, o in spec.option_aliases if w in t and o not in hits]
    if not hits:
        hits = [o for o in spec.options if t and t in o]
    if len(hits) == 1 or (hits and all(h in hits[0] for h in hits)):
        return Checked(hits[0])
    choices = "、".join(spec.options)
    return Checked(error=f"请从这几项里选一个：{choices}。")


def check_number(spec: FieldSpec, text: str) -> Checked:
    t = text.replace(",", "").replace("，", "")
    m = _NUMBER_RE.search(t)
    if not m:
        return Checked(error=f"{spec.label}请填数字{('（单位：' + spec.unit + '）') if spec.unit else ''}。")
    n = float(m.group(0)) * (10000 if "万" in t[m.end():m.end() + 2] else 1)
    if (spec.min is not None and n < spec.min) or (spec.max is not None and n > spec.max):
        lo, hi = spec.min, spec.max
        return Checked(error=f"{spec.label}应在 {lo:g}–{hi:g}{spec.unit} 之间，请再核对一下。")
    return Checked(f"{n:.2f}".rstrip("0").rstrip("."))


def check_text(spec: FieldSpec, text: str) -> Checked:
    v = re.sub(r"\s+", " ", text).strip()
    if len(v) < (5 if spec.type == "address" else 1):
        what = "请写到街道门牌号" if spec.type == "address" else "请填写内容"
        return Checked(error=f"{spec.label}太短了，{what}。")
    if len(v) > spec.max_len:
        return Checked(error=f"{spec.label}最多{spec.max_len}个字，请精简一下。")
    if spec.type == "address" and not re.search(r"[\u4e00-\u9fa5]", v):
        return Checked(error="地址请用中文填写，写到街道门牌号。")
    return Checked(v)


def check(spec: FieldSpec, text: str, values: dict, today: date | None = None) -> Checked:
    """The clean value for `spec`, or an error message to show the citizen."""
    today = today or date.today()
    text = (text or "").strip()
    if spec.optional and text in SKIP_WORDS:
        return Checked("")
    if len(text) > 500:
        return Checked(error="内容太长了，请只回复这一项。")
    match spec.type:
        case "id_number":
            return check_id_number(text, today)
        case "phone":
            return check_phone(text)
        case "date":
            return check_date(spec, text, values, today)
        case "name":
            return check_name(text)
        case "code":
            return check_code(spec, text)
        case "choice":
            return check_choice(spec, text)
        case "number":
            return check_number(spec, text)
        case _:
            return check_text(spec, text)
