"""The one extractor of 身份证号 and mobile numbers in free text.

Both the vault (what Rasa must never see) and form validation (what an answer may
be) use it, so validation can never accept a number the vault left in clear.

How a number is found:
* the text is read in NFKC form: full-width digits, Ｘ, －, U+3000 spaces … become
  their ASCII forms (offsets are kept per original character);
* a number is a run of digit groups with at most three separators (space, hyphen,
  dash, dot, underscore) between groups: "440106 19920315 1025",
  "4401 0619 9203 1510 25", "1380 013 8000", "１３８－００１３－８０００"; a group
  has two digits or more, so "1 3" (choosing items) is never a number;
* digits must not touch the run (digit lookarounds), letters may: "ID440106…",
  "tel13800138000";
* a run is split into the longest well-formed numbers (18 characters with the
  check character, 15 digits, an 11-digit mobile number, optionally after 86/0086);
  what is left and is long (14+ digits: mistyped or run-on 身份证号, card numbers)
  or looks like a mistyped mobile number (10–13 digits starting with 1) is still
  personal data and is found too, so it is vaulted rather than kept in clear.
* our own application numbers (YJS-20261128-000001) are not personal data.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ID, PHONE = "id_number", "phone"

_SEP = r"[ \t\-\u2010\u2011\u2012\u2013\u2014\u2015_.·]"
# digit groups (2+ digits) joined by 1–3 separators, maybe ending in the check character X
_RUN = re.compile(rf"(?<!\d)\d{{2,}}(?:{_SEP}{{1,3}}\d{{2,}})*(?:{_SEP}{{0,3}}\d?X(?![A-Z]))?(?!\d)")
_SEP_RE = re.compile(f"{_SEP}+")
_NOT_PII = re.compile(r"YJS-\d{8}-\d{6}", re.I)
_MOBILE = re.compile(r"1[3-9]\d{9}")


@dataclass(frozen=True)
class Found:
    kind: str  # id_number | phone
    value: str  # digits only (an id may end in X), e.g. "440106199203151025"
    start: int  # span in the original text
    end: int


def nfkc(text: str) -> tuple[str, list[int]]:
    """The NFKC text and, for each of its characters, the index of the original one."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        norm = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
        out.append(norm)
        origin.extend([i] * len(norm))
    return "".join(out), origin


def _shape(digits: str) -> tuple[str, str] | None:
    """(kind, value) when `digits` is exactly one well-formed number."""
    if len(digits) == 18 and digits[:17].isdigit():
        return ID, digits
    if len(digits) == 15 and digits.startswith("0086") and _MOBILE.fullmatch(digits[4:]):
        return PHONE, digits[4:]
    if len(digits) == 15 and digits.isdigit():
        return ID, digits
    if len(digits) == 13 and digits.startswith("86") and _MOBILE.fullmatch(digits[2:]):
        return PHONE, digits[2:]
    if _MOBILE.fullmatch(digits):
        return PHONE, digits
    return None


def _loose(digits: str) -> tuple[str, str] | None:
    """What is left of a run that is still personal data: a long digit run is
    (taken for) a 身份证号, 10–13 digits starting with 1 a mistyped mobile number."""
    if len(digits.rstrip("X")) >= 14:
        return ID, digits
    if digits.isdigit() and digits.startswith("1") and 10 <= len(digits) <= 13:
        return PHONE, digits
    return None


def _split(groups: list[tuple[str, int, int]]) -> list[tuple[str, str, int, int]]:
    """Numbers in one run of groups (digits, start, end): longest well-formed first."""
    found: list[tuple[str, str, int, int]] = []
    i, n = 0, len(groups)
    leftover: list[tuple[str, int, int]] = []

    def flush() -> None:
        if leftover:
            loose = _loose("".join(g for g, _, _ in leftover))
            if loose:
                found.append((*loose, leftover[0][1], leftover[-1][2]))
            leftover.clear()

    while i < n:
        best = None
        alone = _shape(groups[i][0])
        if alone and len(groups[i][0]) >= 11:  # a complete number typed in one piece
            best = (i, alone)
        else:
            digits = ""
            for j in range(i, n):
                digits += groups[j][0]
                if len(digits) > 18:
                    break
                shape = _shape(digits)
                if shape:
                    best = (j, shape)
        if best is None:
            leftover.append(groups[i])
            i += 1
            continue
        flush()
        j, (kind, value) = best
        found.append((kind, value, groups[i][1], groups[j][2]))
        i = j + 1
    flush()
    return found


def find(text: str | None) -> list[Found]:
    """Every 身份证号 and mobile number in `text`, in order, with its span."""
    if not text:
        return []
    norm, origin = nfkc(text)
    norm_upper = norm.upper()
    excluded = [m.span() for m in _NOT_PII.finditer(norm_upper)]
    results: list[Found] = []
    for run in _RUN.finditer(norm_upper):
        if any(s <= run.start() < e for s, e in excluded):
            continue
        groups = []
        pos = run.start()
        for part in _SEP_RE.split(run.group(0)):
            start = norm_upper.index(part, pos)
            groups.append((part, start, start + len(part)))
            pos = start + len(part)
        if groups and groups[-1][0] == "X" and len(groups) > 1:  # "…1510 2 X" style check char
            x = groups.pop()
            groups[-1] = (groups[-1][0] + "X", groups[-1][1], x[2])
        for kind, value, start, end in _split(groups):
            results.append(Found(kind, value, origin[start], origin[end - 1] + 1))
    return results


def contains(text: str | None) -> bool:
    return bool(find(text))


def digits_in(text: str) -> int:
    """How many digits the citizen typed (for "您输入的是17位")."""
    norm, _ = nfkc(text)
    return sum(ch.isdigit() for ch in norm)
