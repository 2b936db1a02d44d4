"""Content rules (docs/content-rules.md): the active ``ProfanityPattern`` rows compiled into matchers,
cached, and applied to a text by ``content_check`` (called only through ``moderation.gate``).

Matching runs on a *normalised* copy of the text: compatibility forms folded (NFKD: fullwidth, ligatures,
accents dropped), zero-width and other invisible format characters removed, common look-alike letters
(Cyrillic, Greek) mapped to their Latin twins, case folded. Each normalised character remembers the
original character it came from, so a censor rule masks the right span of what the author wrote.
A word pattern matches whole words only, with digits and symbols for letters (``5c4m``), repeated
letters (``scaaam``) and letters spaced out one by one (``s c a m``, ``s.c.a.m``); a regex pattern is
applied, as written, to the normalised text.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save

from .models import PatternKind, ProfanityPattern, RuleAction, Severity

# The strongest action wins: a text matching a block and a warn rule is refused.
ACTION_STRENGTH = {
    RuleAction.WARN: 1,
    RuleAction.CENSOR: 2,
    RuleAction.REQUIRE_APPROVAL: 3,
    RuleAction.SHADOWBAN: 4,
    RuleAction.BLOCK: 5,
}
# Actions that put the content in the review queue once it is saved.
FLAGGING_ACTIONS = {RuleAction.WARN, RuleAction.REQUIRE_APPROVAL, RuleAction.SHADOWBAN}
MAX_PATTERN_CHARS = 200
EXCERPT_CHARS = 1000
CACHE_KEY = "moderation:rules:{version}"
VERSION_KEY = "moderation:rules:version"
CACHE_SECONDS = 24 * 3600

# --- Normalisation ----------------------------------------------------------------------------------

# Invisible characters used to split a word without showing it: zero-width space/joiners, word joiner,
# BOM, soft hyphen, Mongolian vowel separator, invisible operators (any other "Cf" is dropped too).
_INVISIBLE = set("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064\u034f")

# Look-alike letters, mapped to the Latin letter they pass for (after case folding). Cyrillic and Greek
# letters NFKD leaves alone; a short, deliberate list (Unicode's confusables.txt is far larger, and maps
# letters whose readers would not mistake them).
CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "і": "i", "ї": "i", "ј": "j", "к": "k", "м": "m",
    "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q",
    "ԝ": "w", "һ": "h", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "σ": "s", "ς": "s", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    # Latin look-alikes
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŀ": "l", "ſ": "s", "ß": "ss", "æ": "ae", "œ": "oe",
}

# In a word pattern, each letter also matches the digits and symbols that stand for it.
LEET = {
    "a": "a4@", "b": "b8", "c": "c(", "e": "e3", "g": "g9", "i": "i1!|", "l": "l1|", "o": "o0",
    "s": "s5$", "t": "t7+", "z": "z2",
}
# What may separate spaced-out single letters ("s c a m", "s.c.a.m", "s-c-a-m", "s_c_a_m", "s*c*a*m").
_SEP = r"[\s.\-_*,/\\~'\"`^:;]+"
# A "word character" for whole-word boundaries: letters and digits. (The symbols that stand for letters
# count inside a word, not as its edge: "scam!" is the word scam.)
_WORD = r"[^\W_]"


def normalise(text: str) -> tuple[str, list[int]]:
    """The text as rules see it, and for each of its characters the index of the original one."""
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in _INVISIBLE:
            continue
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part) or unicodedata.category(part) == "Cf":
                continue
            for folded in part.casefold():
                for mapped in CONFUSABLES.get(folded, folded):
                    out.append(mapped)
                    origin.append(index)
    return "".join(out), origin


def _letter_class(char: str) -> str:
    options = LEET.get(char, char)
    if len(options) == 1:
        return re.escape(options)
    return "[" + "".join(re.escape(c) for c in options) + "]"


def word_regex(word: str) -> str:
    """A word pattern as a regex over normalised text: the letters in a row or spaced out one by one,
    each with its stand-ins, whole words only. A phrase ("free crypto") is its words in order, with any
    separators (or none) between them."""
    words = [[_letter_class(c) for c in part] for part in normalise(word)[0].split()]
    (first, *rest), *others = words
    together = f"{first}*" + "".join(f"{c}+" for c in rest)  # "scaaam", "5c4m"
    spaced = "".join(_SEP + c for c in rest)  # "s c a m": single letters, each with separators between
    following = "".join(
        rf"(?:{_SEP})?(?:{''.join(f'{c}+' for c in letters)}|{letters[0]}{''.join(_SEP + c for c in letters[1:])})"
        for letters in others
    )
    # The first letter comes first, then the check that no word character precedes it: a pattern that
    # starts with a character set lets ``re`` skip ahead to where that set matches (5-10x faster).
    return rf"{first}(?<!{_WORD}.)(?:{together}|{spaced}){following}(?!{_WORD})"


# A group holding a quantifier, itself quantified: ``(a+)+``, ``(\w*)*``, ``(a|aa){2,}`` — the shapes
# that backtrack exponentially in Python's ``re``.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*}]|\|)(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,)")
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


def _backtracks(pattern: str) -> bool:
    """Whether the parsed pattern repeats something that itself repeats or branches, at any depth
    (``((a+))+``, ``(?:(a|b)+)*``): the text check above misses nested groups. Conservative on purpose."""
    from re import _constants as c
    from re import _parser

    def walk(items, inside_repeat: bool) -> bool:
        for op, arg in items:
            if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
                _, high, sub = arg
                repeats = high > 1
                if inside_repeat and repeats:
                    return True
                if walk(sub, inside_repeat or repeats):
                    return True
            elif op == c.BRANCH:
                if inside_repeat:
                    return True
                if any(walk(branch, inside_repeat) for branch in arg[1]):
                    return True
            elif op == c.SUBPATTERN:
                if walk(arg[-1], inside_repeat):
                    return True
            elif op in (c.ASSERT, c.ASSERT_NOT):
                if walk(arg[1], inside_repeat):
                    return True
        return False

    return walk(_parser.parse(pattern), False)


def regex_check(pattern: str) -> re.Pattern:
    """Compiles a regex pattern for a rule, or raises ValidationError({"pattern": ...}) saying why not."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValidationError({"pattern": f"At most {MAX_PATTERN_CHARS} characters."})
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        raise ValidationError({"pattern": f"Not a valid regular expression: {error}."}) from None
    if _NESTED_QUANTIFIER.search(pattern) or _BACKREFERENCE.search(pattern) or _backtracks(pattern):
        raise ValidationError({"pattern": "Nested repetition (like (a+)+) and back-references can make matching "
                                          "take forever; write it without them."})
    if compiled.search(""):
        raise ValidationError({"pattern": "This regular expression matches empty text, so it would match everything."})
    return compiled


def word_check(word: str) -> str:
    word = (word or "").strip()
    if not word or not normalise(word)[0].strip():
        raise ValidationError({"pattern": "A word pattern cannot be empty."})
    if len(word) > MAX_PATTERN_CHARS:
        raise ValidationError({"pattern": f"At most {MAX_PATTERN_CHARS} characters."})
    return word


# --- The compiled, cached rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    id: str
    pattern: str
    kind: str
    action: str
    category: str
    severity: str
    regex: re.Pattern

    @property
    def strength(self) -> int:
        return ACTION_STRENGTH[self.action]


@dataclass(frozen=True)
class RuleFlag:
    """A rule that matched, to queue once the content is saved."""

    rule_id: str
    category: str
    action: str
    excerpt: str


@dataclass(frozen=True)
class Match:
    rule: Rule
    start: int  # in the original text
    end: int
    text: str


def _compile(row: dict) -> Rule | None:
    try:
        source = row["pattern"] if row["kind"] == PatternKind.REGEX else word_regex(row["pattern"])
        regex = re.compile(source, re.IGNORECASE)
    except (re.error, ValueError):
        return None  # refused by the form; a row written around it is skipped rather than break every post
    return Rule(id=str(row["id"]), pattern=row["pattern"], kind=row["kind"], action=row["action"],
                category=row["category"], severity=row["severity"], regex=regex)


_local: dict = {"version": None, "rules": ()}


def rules_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY) or "missing"
    return version


def active_rules() -> tuple[Rule, ...]:
    """The active rules, compiled: one cache read per call (the version), the compiled list kept in the
    process until the version changes; the rows themselves come from the cache, else the database."""
    version = rules_version()
    if _local["version"] == version:
        return _local["rules"]
    key = CACHE_KEY.format(version=version)
    rows = cache.get(key)
    if rows is None:
        rows = list(
            ProfanityPattern.objects.filter(is_active=True)
            .order_by("pk")
            .values("id", "pattern", "kind", "action", "category", "severity")
        )
        for row in rows:
            row["id"] = str(row["id"])
        cache.set(key, rows, timeout=CACHE_SECONDS)
    compiled = tuple(rule for rule in map(_compile, rows) if rule is not None)
    _local.update(version=version, rules=compiled)
    return compiled


def rules_invalidate() -> None:
    """A new version now (this transaction sees its own change) and again after commit (so no other
    process caches the rows read before the commit under the new version)."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    transaction.on_commit(lambda: cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None))


def rules_match(text: str, rules=None) -> list[Match]:
    """Every match of every active rule in ``text`` (at most ``MODERATION_RULES_SCAN_CHARS`` of it)."""
    text = (text or "")[: settings.MODERATION_RULES_SCAN_CHARS]
    if not text:
        return []
    rules = active_rules() if rules is None else rules
    if not rules:
        return []
    normalised, origin = normalise(text)
    found = []
    for rule in rules:
        for hit in rule.regex.finditer(normalised):
            if hit.end() <= hit.start():
                continue
            start, end = origin[hit.start()], origin[hit.end() - 1] + 1
            found.append(Match(rule=rule, start=start, end=end, text=text[start:end]))
    return found


# --- The check --------------------------------------------------------------------------------------

SURFACE_NAMES = {
    "message": "message", "forum_post": "topic", "forum_reply": "reply", "profile": "profile",
    "username": "username", "project": "project name",
}


def mask(text: str, spans) -> str:
    """Keeps the first letter of each masked span and stars the rest ("s***")."""
    chars = list(text)
    for start, end in spans:
        seen_first = False
        for i in range(start, end):
            if chars[i].isspace():
                continue
            if not seen_first:
                seen_first = True
                continue
            chars[i] = "*"
    return "".join(chars)


def content_check(*, text: str, field: str, author, surface: str, can_hide: bool = True):
    """Applies the rules to ``text``: raises ValidationError({field: ...}) for a block (naming the rule's
    category, never its pattern); else returns the ``Screened`` text to store, its state and the flags
    to queue. ``can_hide=False`` (names, profile fields, project names): they cannot be shadowed or held,
    so shadowban and require-approval flag them (like warn). A username cannot be masked either: any
rule but warn refuses it."""
    from community.models import ModerationState

    from .gate import Screened

    matches = rules_match(text)
    if not matches:
        return Screened(text=text)

    def effective(action: str) -> str:
        if field == "username" and action != RuleAction.WARN:
            return RuleAction.BLOCK  # a handle cannot be masked, held or shadowed: refused
        if can_hide or action not in (RuleAction.SHADOWBAN, RuleAction.REQUIRE_APPROVAL):
            return action
        return RuleAction.WARN

    acting = [(effective(m.rule.action), m) for m in matches]
    blocks = [m for action, m in acting if action == RuleAction.BLOCK]
    if blocks:
        strongest = max(blocks, key=lambda m: ACTION_STRENGTH[m.rule.action])
        what = SURFACE_NAMES.get(surface, "text")
        raise ValidationError({field: f"This {what} was refused: it breaks our rule on {strongest.rule.category}."})
    censored = [(m.start, m.end) for action, m in acting if action == RuleAction.CENSOR]
    actions = {action for action, _ in acting}
    state = ModerationState.VISIBLE
    if RuleAction.SHADOWBAN in actions:
        state = ModerationState.SHADOWED
    elif RuleAction.REQUIRE_APPROVAL in actions:
        state = ModerationState.PENDING
    flags, seen = [], set()
    for action, m in acting:
        if action in FLAGGING_ACTIONS and m.rule.id not in seen:
            seen.add(m.rule.id)
            flags.append(RuleFlag(rule_id=m.rule.id, category=m.rule.category, action=action,
                                  excerpt=text[:EXCERPT_CHARS]))
    return Screened(text=mask(text, censored) if censored else text, state=state, flags=tuple(flags))


def flags_queue(*, screened, content_type: str, content_id, author) -> None:
    """One pending queue item per flagging rule on this content (not again while one is pending)."""
    from .models import ItemSource, ItemStatus, ModerationItem

    for flag in screened.flags:
        exists = ModerationItem.objects.filter(
            content_type=content_type, content_id=str(content_id), rule_id=flag.rule_id,
            source=ItemSource.RULE, status=ItemStatus.PENDING,
        ).exists()
        if exists:
            continue
        ModerationItem.objects.create(
            content_type=content_type, content_id=str(content_id), content_author=author,
            content_excerpt=flag.excerpt, source=ItemSource.RULE, rule_id=flag.rule_id,
            reason=f"{flag.category} ({RuleAction(flag.action).label.split(' (')[0].lower()})"[:255],
        )


# --- What the admin's "test this text" shows ---------------------------------------------------------


def rules_explain(text: str, *, field: str = "content", surface: str = "message", can_hide: bool = True) -> dict:
    """Which rules match ``text`` and what would happen: ``{"matches": [...], "outcome": str, "text": str}``."""
    matches = rules_match(text)
    try:
        screened = content_check(text=text, field=field, author=None, surface=surface, can_hide=can_hide)
    except ValidationError as error:
        return {"matches": matches, "outcome": "block", "message": " ".join(error.message_dict[field]), "text": text}
    outcome = screened.state if screened.state != "visible" else ("censor" if screened.text != text else (
        "warn" if screened.flags else "accept"))
    return {"matches": matches, "outcome": outcome, "message": "", "text": screened.text, "flags": screened.flags}


# --- Writes (the admin calls these) ------------------------------------------------------------------


def pattern_clean(*, pattern: str, kind: str) -> str:
    """The pattern as stored, or ValidationError({"pattern": ...})."""
    if "\x00" in (pattern or ""):
        raise ValidationError({"pattern": "A pattern cannot hold NUL characters."})
    if kind == PatternKind.REGEX:
        pattern = (pattern or "").strip()
        if not pattern:
            raise ValidationError({"pattern": "A regular expression cannot be empty."})
        regex_check(pattern)
        return pattern
    if kind == PatternKind.WORD:
        return word_check(pattern)
    raise ValidationError({"kind": f"One of {', '.join(PatternKind.values)}."})


PATTERN_FIELDS = ("pattern", "kind", "severity", "action", "category", "is_active")


@transaction.atomic
def pattern_save(*, actor, pattern: ProfanityPattern | None = None, data: dict) -> ProfanityPattern:
    """Creates or changes a rule, refusing an invalid regex or an empty word; the cache follows. (The admin
    records its own add/change/delete in the audit log, with the changed fields.)"""
    pattern = pattern or ProfanityPattern(created_by=actor)
    for name in PATTERN_FIELDS:
        if name in data:
            setattr(pattern, name, data[name])
    pattern.pattern = pattern_clean(pattern=pattern.pattern, kind=pattern.kind)
    pattern.full_clean()
    pattern.save()
    rules_invalidate()
    return pattern


@transaction.atomic
def pattern_delete(*, actor, pattern: ProfanityPattern) -> None:
    pattern.delete()
    rules_invalidate()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("pattern", "kind", "severity", "action", "category", "is_active")
MAX_IMPORT_ROWS = 5000


def _csv_bool(value: str) -> bool:
    value = (value or "").strip().lower()
    if value in ("", "1", "true", "yes", "y"):
        return True
    if value in ("0", "false", "no", "n"):
        return False
    raise ValidationError({"is_active": "true or false."})


def pattern_import(*, actor, data: bytes | str) -> tuple[int, int, list[str]]:
    """Imports rules from CSV (``CSV_COLUMNS``; ``pattern`` required, the others default), all or nothing:
    any bad row and nothing is saved. A rule whose pattern and kind exist already is updated.
    Returns (created, updated, errors); errors name the row ("Row 3: pattern: ...")."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return 0, 0, ["The file is not UTF-8 text."]
    if "\x00" in data:
        return 0, 0, ["The file holds NUL characters: it is not a CSV text file."]
    try:
        return _pattern_import_rows(actor=actor, reader=csv.DictReader(io.StringIO(data)))
    except csv.Error as error:  # a field past the csv module's limit, a broken quote...
        return 0, 0, [f"Not a readable CSV file: {error}."]


def _pattern_import_rows(*, actor, reader) -> tuple[int, int, list[str]]:
    from .audit import audit_record

    if not reader.fieldnames or "pattern" not in [f.strip() for f in reader.fieldnames]:
        return 0, 0, ["The first line must name the columns, with at least `pattern`: " + ",".join(CSV_COLUMNS) + "."]
    errors: list[str] = []
    cleaned: dict = {}
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_IMPORT_ROWS:
            errors.append(f"At most {MAX_IMPORT_ROWS} rows per file.")
            break
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
        try:
            values = {
                "kind": row.get("kind") or PatternKind.WORD,
                "severity": row.get("severity") or Severity.MEDIUM,
                "action": row.get("action") or RuleAction.WARN,
                "category": row.get("category") or "inappropriate language",
                "is_active": _csv_bool(row.get("is_active", "")),
            }
            for name, choices in (("kind", PatternKind), ("severity", Severity), ("action", RuleAction)):
                if values[name] not in choices.values:
                    raise ValidationError({name: f"one of {', '.join(choices.values)}"})
            if len(values["category"]) > 50:
                raise ValidationError({"category": "at most 50 characters"})
            pattern = row.get("pattern", "")
            if pattern[:1] == "'" and pattern[1:2] in _FORMULA_STARTS:  # as ``patterns_export`` wrote it
                pattern = pattern[1:]
            values["pattern"] = pattern_clean(pattern=pattern, kind=values["kind"])
        except ValidationError as error:
            errors.extend(f"Row {number}: {name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
            continue
        key = (values["pattern"], values["kind"])
        if key in cleaned:
            errors.append(f"Row {number}: pattern: repeats row {cleaned[key][0]}.")
            continue
        cleaned[key] = (number, values)
    if errors:
        return 0, 0, errors
    created = updated = 0
    try:
        with transaction.atomic():
            existing = {(p.pattern, p.kind): p for p in ProfanityPattern.objects.select_for_update().filter(
                pattern__in=[k[0] for k in cleaned])}
            new = []
            for key, (_, values) in cleaned.items():
                if key in existing:
                    rule = existing[key]
                    for name, value in values.items():
                        setattr(rule, name, value)
                    rule.save()
                    updated += 1
                else:
                    new.append(ProfanityPattern(created_by=actor, **values))
            ProfanityPattern.objects.bulk_create(new)
            created = len(new)
            audit_record("moderation.rule_import", actor=actor, resource=None, resource_type="profanity_pattern",
                         resource_id="", request=None, metadata={"created": created, "updated": updated})
            rules_invalidate()
    except IntegrityError:
        return 0, 0, ["Another change to the same rules happened meanwhile; import again."]
    return created, updated, []


def patterns_export(queryset=None) -> str:
    """The rules as CSV, in the columns ``pattern_import`` reads."""
    queryset = ProfanityPattern.objects.all() if queryset is None else queryset
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for rule in queryset.order_by("category", "pattern"):
        pattern = rule.pattern
        if pattern[:1] in _FORMULA_STARTS:  # a spreadsheet would run it as a formula
            pattern = "'" + pattern
        writer.writerow([pattern, rule.kind, rule.severity, rule.action, rule.category, "true" if rule.is_active else "false"])
    return out.getvalue()


# --- Cache invalidation on any change, however made (the admin, a shell, a data migration) -----------


def _pattern_changed(sender, **kwargs) -> None:
    rules_invalidate()


post_save.connect(_pattern_changed, sender=ProfanityPattern, dispatch_uid="moderation.rules.saved")
post_delete.connect(_pattern_changed, sender=ProfanityPattern, dispatch_uid="moderation.rules.deleted")
