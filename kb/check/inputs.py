"""Statements as they arrive: clean them, or say clearly why they cannot be checked.

Nothing here raises for bad input except `InputError`, which carries a code and a message meant for the user.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser

MAX_CHARS = 20_000
MAX_TEXT_BYTES = MAX_CHARS * 4  # a longer UTF-8 text has more than MAX_CHARS characters: refused before decoding
MAX_LINE_BYTES = MAX_CHARS * 6 + 4_096  # a JSONL line of MAX_CHARS characters, every one \u-escaped, plus its id
SURROGATE = re.compile("[\ud800-\udfff]")
# Unicode's control characters (category Cc, fixed by the standard: U+0000-001F and U+007F-009F) other than the
# three whitespace ones: one regex scan instead of a category lookup per character.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
ASCII_LETTER = re.compile("[A-Za-z]")
TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?/?>|<!--.*?-->", re.S)
ENGLISH = {"the", "and", "of", "to", "in", "is", "was", "that", "it", "for", "with", "on", "as", "by", "at", "its", "a",
           "an", "when", "were", "be", "told", "model", "models", "from", "this"}
FOREIGN = {"le", "la", "les", "des", "et", "est", "une", "que", "qui", "dans", "el", "los", "las", "y", "es", "del", "por",
           "con", "una", "der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "il", "di", "che", "della", "em",
           "não", "uma", "het", "een", "och", "att"}


class InputError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Statement:
    id: str
    text: str
    notices: list = field(default_factory=list)
    error: InputError | None = None


class _TextOnly(HTMLParser):
    """Text of an HTML fragment, without scripts, styles or markup."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        if tag in ("p", "br", "div", "li", "h1", "h2", "h3", "tr"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def strip_html(text: str) -> str:
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def clean(text, sid: str = "") -> Statement:
    """Validate and normalise one statement's text; an unusable one carries an InputError instead."""
    statement = Statement(sid, "")
    try:
        statement.text = _clean_text(text, statement.notices)
    except InputError as error:
        statement.error = error
        statement.text = _preview(text)
    return statement


def _clean_text(text, notices: list) -> str:
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError("not_utf8", f"the text is not valid UTF-8 (bad byte at offset {exc.start}); "
                             "save or send it as UTF-8") from None
    if not isinstance(text, str):
        raise InputError("not_text", f"expected the statement as text, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates ("\ud800") come from broken JSON escapes
        raise InputError("not_utf8", f"the text contains a character that is not valid Unicode (at position "
                         f"{exc.start}); send it as UTF-8") from None
    if not text.strip():
        raise InputError("empty", "the text is empty; give the statement to check")
    if len(text) > MAX_CHARS:
        raise InputError("too_long", f"the text has {len(text):,} characters; the limit is {MAX_CHARS:,} — check one "
                         "statement (a post, a headline, a paragraph) at a time")
    if _looks_binary(text):
        raise InputError("binary", "the input looks like binary data, not text")
    text = without_format_characters(text)
    if not text.strip():
        raise InputError("empty", "the text holds only invisible characters; give the statement to check")
    if TAG.search(text) and re.search(r"<(p|div|span|a|br|b|i|em|strong|script|style|html|body|h\d|li)\b", text, re.I):
        text = strip_html(text)
        notices.append("HTML markup was removed; only the text was checked")
    text = unicodedata.normalize("NFC", re.sub(r"\s+", " ", text)).strip()
    if text and not looks_english(text):
        notices.append("the text does not look like English; Caveat checks English statements only")
        return ""
    return text


def without_format_characters(text: str) -> str:
    """The text without Unicode format characters (category Cf: zero-width space and joiners, soft hyphen,
    direction marks, byte-order mark). They are invisible, so a reader sees "5%" where the text has "5\u200b%";
    left in, they split numbers and words and change the verdict. The one normalisation the checker, the server
    and `kb scan`'s gate all use."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if ch.isascii() or unicodedata.category(ch) != "Cf")


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    controls = len(CONTROL.findall(text))
    return controls > max(2, len(text) // 20)


def looks_english(text: str) -> bool:
    if text.isascii():  # every letter Latin: only the words can tell (no loop over the characters)
        if len(ASCII_LETTER.findall(text)) < 12:
            return True
    else:
        letters = [ch for ch in text if ch.isalpha()]
        if len(letters) < 12:
            return True  # too short to tell ("o1: 5%")
        latin = sum(1 for ch in letters if ch.isascii())
        if latin / len(letters) < 0.6:
            return False
    words = re.findall(r"[a-zà-ÿ]+", text.lower())
    english, foreign = sum(w in ENGLISH for w in words), sum(w in FOREIGN for w in words)
    return not (foreign >= 3 and foreign > english)


def _preview(text) -> str:
    if isinstance(text, str):
        return printable(text[:200] + ("…" if len(text) > 200 else ""))
    return ""


def printable(text: str) -> str:
    """The text with lone surrogates (not Unicode, so not writable as UTF-8) replaced by U+FFFD."""
    return SURROGATE.sub("\ufffd", text)


def too_long(what: str) -> InputError:
    return InputError("too_long", f"{what} is over {MAX_CHARS:,} characters, the limit — check one statement (a post, "
                      "a headline, a paragraph) at a time")


def parse_line(line: str, number: int) -> tuple[str, object]:
    """(id, text) from one JSONL input line: {"id": ..., "text": ...} or plain text (id = line number)."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            return str(number), InputError("bad_json", f"line {number} starts like JSON but is not valid JSON ({exc.msg} "
                                           f"at column {exc.colno})")
        if not isinstance(obj, dict) or "text" not in obj:
            return str(number), InputError("bad_json", f'line {number}: a JSON line needs a "text" field')
        sid = str(obj.get("id", number))  # any other keys are the caller's own and are ignored
        if SURROGATE.search(sid):
            return printable(sid), InputError("not_utf8", f"line {number}: the id has a lone surrogate, which is not "
                                              "valid Unicode; send it as UTF-8")
        return sid, obj["text"]
    return str(number), line.rstrip("\r\n")
