"""Situations (情形引导): a few questions per bundle and the rules that decide,
for the citizen's case, which items apply, which exclude each other, which
materials are needed, where to go and whether they are eligible at all.

The content is plain JSON-able data, the `situations` block of
data/bundles/<id>.yml (see README "Situations"). This module reads it
(`parse_guide`, every problem with its field path), checks it as a whole
(`check_guide`: no unreachable item, rule or question, no contradiction in any
case) and evaluates it (`Guide.decide`). Pure: no database, no Rasa; the loader,
the seed, the knowledge service and the actions all use these same objects.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_CASES = 4096
# A reply may end with these particles: "有的", "没有呢", "要吧".
_PARTICLES = set("的了呢吧啊哦呀噢嗯啦哈喔咯嘛")
_PUNCT = re.compile(r"[\s，,。.！!？?、；;：:~～…\"'“”‘’（）()【】\[\]]+")
_ORDINAL = re.compile(r"^(?:第|选|选第)?([1-9一二三四五六])(?:个|项|种|条)?$")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6}

Condition = tuple[tuple[str, tuple[str, ...]], ...]
SKIPPED = "?"  # the answer to a question the citizen chose not to answer: not asked again


@dataclass(frozen=True)
class Choice:
    id: str
    label: str
    words: tuple[str, ...] = ()      # said anywhere in a message: "在医院病逝"
    replies: tuple[str, ...] = ()    # short answers to this question only: "是", "没有"
    implies: tuple[tuple[str, str], ...] = ()  # answers this choice implies when not said

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "label": self.label}
        if self.words:
            out["words"] = list(self.words)
        if self.replies:
            out["replies"] = list(self.replies)
        if self.implies:
            out["implies"] = dict(self.implies)
        return out


@dataclass(frozen=True)
class Question:
    id: str
    ask: str
    choices: tuple[Choice, ...]
    when: Condition = ()

    def choice(self, choice_id: str) -> Choice:
        for c in self.choices:
            if c.id == choice_id:
                return c
        raise KeyError(choice_id)

    @property
    def choice_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.choices)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "ask": self.ask,
                               "choices": [c.to_json() for c in self.choices]}
        if self.when:
            out["when"] = _condition_json(self.when)
        return out


@dataclass(frozen=True)
class MaterialRef:
    """One material use of one item: (item, doc) or (item, doc, holder)."""

    item: str
    doc: str
    holder: str | None = None

    def matches(self, item: str, doc: str, holder: str) -> bool:
        return self.item == item and self.doc == doc and self.holder in (None, holder)

    def to_json(self) -> dict[str, str]:
        out = {"item": self.item, "doc": self.doc}
        if self.holder:
            out["holder"] = self.holder
        return out


@dataclass(frozen=True)
class Ineligible:
    reason: str      # why the citizen cannot use this bundle in their case
    instead: str     # where to go or what to do instead


@dataclass(frozen=True)
class Rule:
    when: Condition = ()
    exclude: tuple[str, ...] = ()      # items that do not apply in this case
    done: tuple[str, ...] = ()         # items already done (their dependants may go ahead)
    need: tuple[MaterialRef, ...] = ()  # conditional materials that are needed in this case
    drop: tuple[MaterialRef, ...] = ()  # materials not needed in this case
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()  # item → place kinds in this case
    say: str | None = None
    ineligible: Ineligible | None = None

    def holds(self, answers: Mapping[str, str]) -> bool:
        return holds(self.when, answers)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.when:
            out["when"] = _condition_json(self.when)
        for key in ("exclude", "done"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        for key in ("need", "drop"):
            if getattr(self, key):
                out[key] = [m.to_json() for m in getattr(self, key)]
        if self.where:
            out["where"] = {item: list(kinds) for item, kinds in self.where}
        if self.say:
            out["say"] = self.say
        if self.ineligible:
            out["ineligible"] = {"reason": self.ineligible.reason, "instead": self.ineligible.instead}
        return out


def holds(condition: Condition, answers: Mapping[str, str]) -> bool:
    return all(answers.get(q) in choices for q, choices in condition)


def _condition_json(condition: Condition) -> dict[str, Any]:
    return {q: (list(cs) if len(cs) > 1 else cs[0]) for q, cs in condition}


@dataclass(frozen=True)
class Decision:
    """What applies in one (possibly partly known) case."""

    answers: dict[str, str]               # the answers that count (asked questions only)
    items: tuple[str, ...]                # applicable item keys, in bundle order
    excluded: tuple[str, ...] = ()
    done: tuple[str, ...] = ()
    need: tuple[MaterialRef, ...] = ()
    drop: tuple[MaterialRef, ...] = ()
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)
    says: tuple[str, ...] = ()
    ineligible: Ineligible | None = None
    pending: tuple[str, ...] = ()         # questions still to ask, in order
    open_groups: tuple[tuple[str, ...], ...] = ()  # exclusive items not yet told apart
    rules: tuple[int, ...] = ()           # indexes of the rules that fired

    @property
    def complete(self) -> bool:
        return not self.pending

    def material(self, item: str, doc: str, holder: str) -> str | None:
        """'need', 'drop' or None (as the content says) for one material use."""
        if any(m.matches(item, doc, holder) for m in self.drop):
            return "drop"
        if any(m.matches(item, doc, holder) for m in self.need):
            return "need"
        return None

    def exclusive_partner(self, item: str) -> tuple[str, ...]:
        for group in self.open_groups:
            if item in group:
                return tuple(k for k in group if k != item)
        return ()


@dataclass(frozen=True)
class Guide:
    questions: tuple[Question, ...] = ()
    rules: tuple[Rule, ...] = ()
    exclusive: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.questions or self.rules or self.exclusive)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    # -- answers ----------------------------------------------------------
    def effective(self, answers: Mapping[str, str] | None) -> dict[str, str]:
        """The answers that count: valid choices of questions that apply, in order.

        A question whose `when` does not hold is not part of this case, so an
        answer to it (inferred from a message, or left from earlier) is ignored.
        """
        out: dict[str, str] = {}
        for q in self.questions:
            value = (answers or {}).get(q.id)
            if value in q.choice_ids and holds(q.when, out):
                out[q.id] = value
        return out

    def pending(self, answers: Mapping[str, str] | None) -> list[Question]:
        """Questions that may still be asked: unanswered, and their `when` holds
        or depends on a question that is itself still pending."""
        eff = self.effective(answers)
        out: list[Question] = []
        for q in self.questions:
            if q.id in eff or (answers or {}).get(q.id) == SKIPPED:
                continue
            if all((qid in eff and eff[qid] in cs) or any(p.id == qid for p in out) for qid, cs in q.when):
                out.append(q)
        return out

    def next_question(self, answers: Mapping[str, str] | None) -> Question | None:
        """The first question still to ask; None when all are answered or the
        answers already make the citizen ineligible."""
        eff = self.effective(answers)
        if any(r.ineligible and r.holds(eff) for r in self.rules):
            return None
        for q in self.questions:
            if q.id not in eff and (answers or {}).get(q.id) != SKIPPED and holds(q.when, eff):
                return q
        return None

    def infer(self, text: str, known: Mapping[str, str] | None = None) -> dict[str, str]:
        """Answers a message gives by itself: "在医院病逝" → place=hospital.

        Words are matched longest first and never overlap, so "非正常死亡" is
        not also read as "正常死亡". A question whose words point to two
        different choices stays unanswered. A choice's `implies` fills
        questions the message does not answer and `known` does not either.
        """
        phrases = sorted(((w, q.id, c.id) for q in self.questions for c in q.choices for w in c.words if w),
                         key=lambda p: -len(p[0]))
        taken = [False] * len(text)
        found: dict[str, set[str]] = {}
        for word, qid, cid in phrases:
            start = text.find(word)
            while start != -1:
                end = start + len(word)
                if not any(taken[start:end]):
                    for i in range(start, end):
                        taken[i] = True
                    found.setdefault(qid, set()).add(cid)
                start = text.find(word, start + 1)
        said = {q: next(iter(cs)) for q, cs in found.items() if len(cs) == 1}
        out = dict(said)
        for qid, cid in said.items():
            for other, implied in self.question(qid).choice(cid).implies:
                if other not in out and other not in (known or {}):
                    out[other] = implied
        return out

    def reply(self, question: Question, text: str) -> str | None:
        """The choice a reply to `question` picks: its label, its number, a
        short reply ("是", "没有的"), or words that answer it."""
        bare = _PUNCT.sub("", text or "").lower()
        if not bare:
            return None
        for c in question.choices:
            if bare in (c.label.lower(), _PUNCT.sub("", c.label).lower(), c.id):
                return c.id
        m = _ORDINAL.match(bare)
        if m:
            n = int(m.group(1)) if m.group(1).isdigit() else _CN_DIGITS[m.group(1)]
            if 1 <= n <= len(question.choices):
                return question.choices[n - 1].id
        best: tuple[int, str] | None = None
        for c in question.choices:
            for r in c.replies:
                r = r.lower()
                fits = bare.startswith(r) and set(bare[len(r):]) <= _PARTICLES
                if fits and (best is None or len(r) > best[0]):
                    best = (len(r), c.id)
        if best:
            return best[1]
        return self.infer(text).get(question.id)

    # -- decision ---------------------------------------------------------
    def decide(self, item_keys: Iterable[str], answers: Mapping[str, str] | None = None) -> Decision:
        keys = list(item_keys)
        eff = self.effective(answers)
        fired = [n for n, r in enumerate(self.rules) if r.holds(eff)]
        excluded: dict[str, None] = {}
        done: dict[str, None] = {}
        need: list[MaterialRef] = []
        drop: list[MaterialRef] = []
        where: dict[str, tuple[str, ...]] = {}
        says: list[str] = []
        ineligible = None
        for n in fired:
            r = self.rules[n]
            excluded.update(dict.fromkeys(r.exclude))
            done.update(dict.fromkeys(r.done))
            need += r.need
            drop += r.drop
            for item, kinds in r.where:
                where.setdefault(item, kinds)
            if r.say and r.say not in says:
                says.append(r.say)
            if r.ineligible and ineligible is None:
                ineligible = r.ineligible
        items = () if ineligible else tuple(k for k in keys if k not in excluded and k not in done)
        open_groups = tuple(g for g in self.exclusive if sum(k in items for k in g) > 1)
        pending = tuple(q.id for q in self.pending(answers)) if ineligible is None else ()
        return Decision(
            answers=eff, items=items, excluded=tuple(k for k in keys if k in excluded),
            done=tuple(k for k in keys if k in done), need=tuple(need), drop=tuple(drop),
            where=where, says=tuple(says), ineligible=ineligible, pending=pending,
            open_groups=open_groups, rules=tuple(fired),
        )

    def cases(self) -> Iterator[dict[str, str]]:
        """Every complete case: one answer to each question that applies."""
        def walk(n: int, answers: dict[str, str]) -> Iterator[dict[str, str]]:
            if n == len(self.questions):
                yield dict(answers)
                return
            q = self.questions[n]
            if not holds(q.when, answers):
                yield from walk(n + 1, answers)
                return
            for c in q.choices:
                answers[q.id] = c.id
                yield from walk(n + 1, answers)
                del answers[q.id]
        yield from walk(0, {})

    # -- serialisation ----------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.questions:
            out["questions"] = [q.to_json() for q in self.questions]
        if self.rules:
            out["rules"] = [r.to_json() for r in self.rules]
        if self.exclusive:
            out["exclusive"] = [list(g) for g in self.exclusive]
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> Guide:
        """Rebuild a guide from `to_json()` output (already validated content)."""
        guide, problems = parse_guide(raw or {})
        if problems:
            raise ValueError("invalid situations: " + "; ".join(f"{p}: {m}" for p, m in problems))
        return guide


# -- reading ---------------------------------------------------------------
Problems = list[tuple[str, str]]  # (field path, message)


def _texts(value: Any, path: str, problems: Problems) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                              for v in value):
        problems.append((path, "must be a list of texts"))
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())


def _text(raw: Mapping, key: str, path: str, problems: Problems, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append((f"{path}.{key}" if path else key, "is missing"))
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        problems.append((f"{path}.{key}" if path else key, "must be text"))
        return None
    return str(value).strip()


def _id(raw: Mapping, path: str, problems: Problems) -> str | None:
    value = _text(raw, "id", path, problems)
    if value is not None and not ID_RE.match(value):
        problems.append((f"{path}.id", f"'{value}' must be snake_case"))
    return value


def _condition(raw: Any, path: str, problems: Problems) -> Condition:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        problems.append((path, "must map question ids to a choice or a list of choices"))
        return ()
    out = []
    for q, value in raw.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            problems.append((f"{path}.{q}", "must be a choice id or a list of choice ids"))
            continue
        out.append((str(q), tuple(values)))
    return tuple(out)


def _material_refs(raw: Any, path: str, problems: Problems) -> tuple[MaterialRef, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append((path, "must be a list of {item, doc, holder?}"))
        return ()
    out = []
    for n, m in enumerate(raw):
        p = f"{path}[{n}]"
        if not isinstance(m, Mapping) or not m.get("item") or not m.get("doc"):
            problems.append((p, "needs 'item' and 'doc'"))
            continue
        out.append(MaterialRef(str(m["item"]), str(m["doc"]), str(m["holder"]) if m.get("holder") else None))
    return tuple(out)


_QUESTION_KEYS = {"id", "ask", "choices", "when"}
_CHOICE_KEYS = {"id", "label", "words", "replies", "implies"}
_RULE_KEYS = {"when", "exclude", "done", "need", "drop", "where", "say", "ineligible"}
_GUIDE_KEYS = {"questions", "rules", "exclusive"}


def _unknown_keys(raw: Mapping, allowed: set[str], path: str, problems: Problems) -> None:
    for key in raw:
        if key not in allowed:
            problems.append((f"{path}.{key}" if path else str(key),
                             f"unknown field (expected one of {', '.join(sorted(allowed))})"))


def parse_guide(raw: Any, base: str = "situations") -> tuple[Guide, Problems]:
    """Read a `situations` block; problems are (field path, message)."""
    problems: Problems = []
    if raw is None:
        return Guide(), problems
    if not isinstance(raw, Mapping):
        return Guide(), [(base, "must be a mapping with questions, rules and exclusive")]
    _unknown_keys(raw, _GUIDE_KEYS, base, problems)
    questions = []
    raw_questions = raw.get("questions") or []
    if not isinstance(raw_questions, list):
        problems.append((f"{base}.questions", "must be a list"))
        raw_questions = []
    for n, rq in enumerate(raw_questions):
        p = f"{base}.questions[{n}]"
        if not isinstance(rq, Mapping):
            problems.append((p, "must be a mapping"))
            continue
        _unknown_keys(rq, _QUESTION_KEYS, p, problems)
        qid, ask = _id(rq, p, problems), _text(rq, "ask", p, problems)
        choices = []
        raw_choices = rq.get("choices") or []
        if not isinstance(raw_choices, list) or len(raw_choices) < 2:
            problems.append((f"{p}.choices", "a question needs at least two choices"))
            raw_choices = raw_choices if isinstance(raw_choices, list) else []
        for m, rc in enumerate(raw_choices):
            cp = f"{p}.choices[{m}]"
            if not isinstance(rc, Mapping):
                problems.append((cp, "must be a mapping"))
                continue
            _unknown_keys(rc, _CHOICE_KEYS, cp, problems)
            cid, label = _id(rc, cp, problems), _text(rc, "label", cp, problems)
            implies = rc.get("implies") or {}
            if not isinstance(implies, Mapping) or not all(isinstance(v, str) for v in implies.values()):
                problems.append((f"{cp}.implies", "must map question ids to one choice id"))
                implies = {}
            if cid and label:
                choices.append(Choice(cid, label, _texts(rc.get("words"), f"{cp}.words", problems),
                                      _texts(rc.get("replies"), f"{cp}.replies", problems),
                                      tuple((str(k), str(v)) for k, v in implies.items())))
        if qid and ask:
            questions.append(Question(qid, ask, tuple(choices), _condition(rq.get("when"), f"{p}.when", problems)))
    rules = []
    raw_rules = raw.get("rules") or []
    if not isinstance(raw_rules, list):
        problems.append((f"{base}.rules", "must be a list"))
        raw_rules = []
    for n, rr in enumerate(raw_rules):
        p = f"{base}.rules[{n}]"
        if not isinstance(rr, Mapping):
            problems.append((p, "must be a mapping"))
            continue
        _unknown_keys(rr, _RULE_KEYS, p, problems)
        where_raw = rr.get("where") or {}
        where = []
        if not isinstance(where_raw, Mapping):
            problems.append((f"{p}.where", "must map item ids to a list of place kinds"))
        else:
            for item, kinds in where_raw.items():
                where.append((str(item), _texts(kinds if isinstance(kinds, list) else [kinds],
                                                f"{p}.where.{item}", problems)))
        ineligible = None
        if rr.get("ineligible") is not None:
            ri = rr["ineligible"]
            if not isinstance(ri, Mapping):
                problems.append((f"{p}.ineligible", "needs 'reason' and 'instead'"))
            else:
                reason = _text(ri, "reason", f"{p}.ineligible", problems)
                instead = _text(ri, "instead", f"{p}.ineligible", problems)
                if reason and instead:
                    ineligible = Ineligible(reason, instead)
        rule = Rule(
            when=_condition(rr.get("when"), f"{p}.when", problems),
            exclude=_texts(rr.get("exclude"), f"{p}.exclude", problems),
            done=_texts(rr.get("done"), f"{p}.done", problems),
            need=_material_refs(rr.get("need"), f"{p}.need", problems),
            drop=_material_refs(rr.get("drop"), f"{p}.drop", problems),
            where=tuple(where), say=_text(rr, "say", p, problems, required=False), ineligible=ineligible,
        )
        if not any((rule.exclude, rule.done, rule.need, rule.drop, rule.where, rule.say, rule.ineligible)):
            problems.append((p, "a rule needs an effect: exclude, done, need, drop, where, say or ineligible"))
        rules.append(rule)
    exclusive = []
    raw_ex = raw.get("exclusive") or []
    if not isinstance(raw_ex, list):
        problems.append((f"{base}.exclusive", "must be a list of item lists"))
        raw_ex = []
    for n, group in enumerate(raw_ex):
        g = _texts(group, f"{base}.exclusive[{n}]", problems)
        if len(set(g)) < 2:
            problems.append((f"{base}.exclusive[{n}]", "an exclusive group names at least two different items"))
            continue
        exclusive.append(g)
    return Guide(tuple(questions), tuple(rules), tuple(exclusive)), problems


# -- checking --------------------------------------------------------------
@dataclass(frozen=True)
class ItemFacts:
    """What check_guide needs to know about one item of the bundle."""

    key: str
    materials: tuple[tuple[str, str, bool], ...]   # (doc, holder, conditional)
    prerequisites: tuple[tuple[str, ...], ...] = ()  # alternatives within the bundle
    parallel_group: str | None = None


def _case_text(case: Mapping[str, str]) -> str:
    return "、".join(f"{q}={c}" for q, c in case.items()) or "所有情形"


def check_guide(guide: Guide, items: list[ItemFacts], place_kinds: Iterable[str] | None = None,
                base: str = "situations", used_elsewhere: Iterable[str] = ()) -> Problems:
    """Every problem of a parsed guide against its bundle's items: references,
    then every complete case (no contradiction, nothing unreachable).
    `used_elsewhere`: questions the bundle's `requires` depend on."""
    problems: Problems = []
    by_key = {it.key: it for it in items}
    kinds = set(place_kinds) if place_kinds is not None else None
    seen_q: dict[str, Question] = {}
    for n, q in enumerate(guide.questions):
        p = f"{base}.questions[{n}]"
        if q.id in seen_q:
            problems.append((f"{p}.id", f"duplicate question id '{q.id}'"))
        for qid, choices in q.when:
            if qid not in seen_q:
                problems.append((f"{p}.when.{qid}", f"'{qid}' is not an earlier question"))
                continue
            for c in choices:
                if c not in seen_q[qid].choice_ids:
                    problems.append((f"{p}.when.{qid}", f"'{c}' is not a choice of '{qid}'"))
        seen_q[q.id] = q
        ids = [c.id for c in q.choices]
        for m, c in enumerate(q.choices):
            if ids.count(c.id) > 1 and ids.index(c.id) != m:
                problems.append((f"{p}.choices[{m}].id", f"duplicate choice id '{c.id}'"))
        owner: dict[str, str] = {}
        for m, c in enumerate(q.choices):
            for w in (*c.words, *c.replies):
                other = owner.setdefault(w, c.id)
                if other != c.id:
                    problems.append((f"{p}.choices[{m}]", f"'{w}' answers both '{other}' and '{c.id}'"))
            for qid, cid in c.implies:
                target = next((x for x in guide.questions if x.id == qid), None)
                if target is None or target.id == q.id:
                    problems.append((f"{p}.choices[{m}].implies.{qid}", f"'{qid}' is not another question"))
                elif cid not in target.choice_ids:
                    problems.append((f"{p}.choices[{m}].implies.{qid}", f"'{cid}' is not a choice of '{qid}'"))
    for n, r in enumerate(guide.rules):
        p = f"{base}.rules[{n}]"
        for qid, choices in r.when:
            if qid not in seen_q:
                problems.append((f"{p}.when.{qid}", f"'{qid}' is not a question"))
                continue
            for c in choices:
                if c not in seen_q[qid].choice_ids:
                    problems.append((f"{p}.when.{qid}", f"'{c}' is not a choice of '{qid}'"))
        for key in ("exclude", "done"):
            for k, item in enumerate(getattr(r, key)):
                if item not in by_key:
                    problems.append((f"{p}.{key}[{k}]", f"'{item}' is not an item of this bundle"))
        for key in ("need", "drop"):
            for k, ref in enumerate(getattr(r, key)):
                it = by_key.get(ref.item)
                if it is None:
                    problems.append((f"{p}.{key}[{k}].item", f"'{ref.item}' is not an item of this bundle"))
                elif not any(ref.matches(ref.item, doc, holder) for doc, holder, _ in it.materials):
                    who = f" held by {ref.holder}" if ref.holder else ""
                    problems.append((f"{p}.{key}[{k}].doc", f"item '{ref.item}' has no material '{ref.doc}'{who}"))
                elif key == "need" and not any(cond for doc, holder, cond in it.materials
                                               if ref.matches(ref.item, doc, holder)):
                    problems.append((f"{p}.{key}[{k}].doc", f"'{ref.doc}' of '{ref.item}' is always needed; "
                                     "'need' is for materials marked conditional"))
        for item, item_kinds in r.where:
            if item not in by_key:
                problems.append((f"{p}.where.{item}", f"'{item}' is not an item of this bundle"))
            if not item_kinds:
                problems.append((f"{p}.where.{item}", "names no place"))
            for kind in item_kinds:
                if kinds is not None and kind not in kinds:
                    problems.append((f"{p}.where.{item}", f"unknown place kind '{kind}'"))
    for n, group in enumerate(guide.exclusive):
        for k, item in enumerate(group):
            if item not in by_key:
                problems.append((f"{base}.exclusive[{n}][{k}]", f"'{item}' is not an item of this bundle"))
        parallel = {by_key[i].parallel_group for i in group if i in by_key and by_key[i].parallel_group}
        for pg in parallel:
            if sum(1 for i in group if i in by_key and by_key[i].parallel_group == pg) > 1:
                problems.append((f"{base}.exclusive[{n}]", f"items of parallel group '{pg}' must be done "
                                 "together, they cannot exclude each other"))
    if problems:
        return problems  # the cases below only make sense for well-formed content
    return problems + _check_cases(guide, items, base, set(used_elsewhere))


def _check_cases(guide: Guide, items: list[ItemFacts], base: str, used_elsewhere: set[str]) -> Problems:
    problems: Problems = []
    keys = [it.key for it in items]
    by_key = {it.key: it for it in items}
    cases = list(itertools.islice(guide.cases(), MAX_CASES + 1))
    if len(cases) > MAX_CASES:
        return [(f"{base}.questions", f"more than {MAX_CASES} cases: ask fewer questions")]
    reachable: set[str] = set()
    fired: set[int] = set()
    asked: set[str] = set()
    reported: set[tuple[str, str]] = set()

    def once(path: str, message: str) -> None:
        if (path, message) not in reported:
            reported.add((path, message))
            problems.append((path, message))

    for case in cases:
        d = guide.decide(keys, case)
        asked.update(case)
        fired.update(d.rules)
        reachable.update(d.items)
        when = _case_text(case)
        if d.ineligible is None and not d.items:
            once(f"{base}.rules", f"no item applies and no 'ineligible' explains why when {when}")
        for n, group in enumerate(guide.exclusive):
            both = [k for k in group if k in d.items]
            if len(both) > 1:
                once(f"{base}.exclusive[{n}]", f"contradiction: {' and '.join(both)} exclude each other "
                     f"but both apply when {when}")
        for m in d.need:
            if m in d.drop or any(x.matches(m.item, m.doc, m.holder or "") for x in d.drop if m.holder):
                once(f"{base}.rules", f"contradiction: material {m.doc} of {m.item} is both needed and "
                     f"dropped when {when}")
        overrides: dict[str, set[tuple[str, ...]]] = {}
        for n in d.rules:
            for item, item_kinds in guide.rules[n].where:
                overrides.setdefault(item, set()).add(item_kinds)
        for item, variants in overrides.items():
            if len(variants) > 1 and item in d.items:
                once(f"{base}.rules", f"contradiction: two rules send {item} to different places when {when}")
        for key in d.items:
            for alternatives in by_key[key].prerequisites:
                if alternatives and all(a in d.excluded and a not in d.done for a in alternatives):
                    once(f"{base}.rules", f"item {key} applies but its prerequisite "
                         f"{' or '.join(alternatives)} never does when {when}")
    for key in keys:
        if key not in reachable:
            problems.append((f"{base}.rules", f"unreachable item: {key} applies in no case"))
    for n, _r in enumerate(guide.rules):
        if n not in fired:
            problems.append((f"{base}.rules[{n}].when", "this rule applies in no case"))
    used = ({q for r in guide.rules for q, _ in r.when} | {q for x in guide.questions for q, _ in x.when}
            | used_elsewhere)
    for n, q in enumerate(guide.questions):
        if q.id not in asked:
            problems.append((f"{base}.questions[{n}].when", f"question '{q.id}' is asked in no case"))
        elif q.id not in used:
            problems.append((f"{base}.questions[{n}]", f"question '{q.id}' decides nothing (no rule or "
                             "question depends on it)"))
    return problems
