"""Valid answers for any form field, derived from its spec (for whole-form tests)."""

from __future__ import annotations

from datetime import date, timedelta

from bot.applications.formspec import FieldSpec

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(region: str = "440106", born: str = "19920315", seq: str = "357") -> str:
    body = region + born + seq
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _W, strict=True)) % 11]


def answer_for(spec: FieldSpec, today: date | None = None) -> str:
    today = today or date.today()
    match spec.type:
        case "id_number":
            return make_id(born="19500101") if "deceased" in spec.id else make_id(seq="233")
        case "phone":
            return "13912345678"
        case "date":
            d = today + timedelta(days=7) if spec.not_past else today - timedelta(days=3)
            return f"{d.year}年{d.month}月{d.day}日"
        case "name":
            return "张晓明"
        case "choice":
            return spec.options[0]
        case "code":
            return spec.example
        case "number":
            return str(int(max(spec.min or 1, 1) * 10))
        case "address":
            return "广州市天河区体育西路101号"
        case _:
            return "测试填写内容"


def submit_concurrently(apps, draft_id: int, times: int) -> tuple[list[str], list[Exception]]:
    """Submit one draft from `times` threads at once (double taps, retries, two servers)."""
    import threading

    numbers: list[str] = []
    errors: list[Exception] = []

    def go() -> None:
        try:
            numbers.append(apps.submit(draft_id).number)
        except Exception as exc:  # noqa: BLE001 - the test inspects every failure
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return numbers, errors
