"""Bytes to text for uploaded files: UTF-8, UTF-16 or Windows-1252, and a clear refusal of the rest.

Spreadsheets save CSV as UTF-8 (with or without BOM), UTF-16 ("Unicode text") or Windows-1252 (Excel
on Western Windows). Anything else read as Windows-1252 would import mojibake ("‘¾˜Y" for "太郎")
without a word, so it is refused, naming the encoding charset-normalizer detects:
- bytes that are not UTF-8 and whose non-ASCII bytes come in pairs that decode as Chinese/Japanese/
  Korean (Shift-JIS, EUC-JP, Big5, GB18030, EUC-KR) are refused;
- ASCII that carries UTF-7 sequences ("J+APw-rgen") is refused;
- bytes that mix UTF-8 with another encoding are refused, naming the first line that is not UTF-8;
- bytes that are no text at all (NULs, control bytes, undefined Windows-1252 bytes) are refused.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

SAMPLE_BYTES = 1024 * 1024  # read this much of a non-UTF-8 file to tell CJK from Windows-1252
CJK_CODECS = ("shift_jis", "cp932", "euc_jp", "big5", "gb18030", "euc_kr", "cp949")
_UTF7_RUN = re.compile(r"\+[A-Za-z0-9/+]{3,}-?")
# UTF-8 for Latin letters (U+00C0-U+017F), Greek and Cyrillic, and any 3-4 byte character. Other 2-byte
# forms are left out: in Windows-1252 they are a capital before punctuation ("É»", "É" + no-break space).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc3-\xc5\xce-\xd1][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
ADVICE = 'Save it as "CSV UTF-8" in your spreadsheet program and upload it again.'


class EncodingRefused(ValueError):
    """The file is not UTF-8, UTF-16 or Windows-1252 text; the message says what it looks like."""


def text_decode(*, data: bytes) -> tuple[str, str]:
    """(text, encoding name) or EncodingRefused."""
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise EncodingRefused(
            "This is a spreadsheet workbook (Excel .xlsx/.xls or a ZIP file), not a CSV file. " + ADVICE
        )
    if data.startswith(codecs.BOM_UTF8):
        return _decode(data[len(codecs.BOM_UTF8) :], "utf-8", "utf-8-sig"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(data, "utf-16", "utf-16"), "utf-16"
    if _looks_utf16(data):
        sample = data[:4096]  # the zeros are the high bytes: odd positions in LE, even in BE
        encoding = "utf-16-le" if sample[1::2].count(0) > sample[0::2].count(0) else "utf-16-be"
        return _decode(data, encoding, "UTF-16 without a byte order mark"), encoding
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text, first_bad = None, exc.start
    if text is not None:
        if text.isascii():
            _refuse_utf7(text)
        return text, "utf-8"
    if _CONTROL.search(data[:65536]):
        raise EncodingRefused(f"The file is not a text (CSV) file: it contains binary data. {ADVICE}")
    cjk = _cjk_codec(data)
    if cjk:
        raise EncodingRefused(
            f"The file looks like Chinese/Japanese/Korean text in a legacy encoding (detected: "
            f"{_detected(data, default=cjk)}), not UTF-8, UTF-16 or Windows-1252: read as Windows-1252 "
            f"its names would be garbled. {ADVICE}"
        )
    if _UTF8_SEQUENCE.search(data):
        line = data.count(b"\n", 0, first_bad) + 1
        raise EncodingRefused(
            f"The file mixes encodings: parts are UTF-8, but line {line} is not (Windows-1252?). "
            f"Read as one or the other, some names would be garbled. {ADVICE}"
        )
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise EncodingRefused(
            f"The file is not UTF-8, UTF-16 or Windows-1252 (detected: {_detected(data, default='unknown')})"
            f": its text would be garbled. {ADVICE}"
        ) from None


def _decode(data: bytes, encoding: str, label: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise EncodingRefused(
            f"The file says it is {label} but byte {exc.start + 1} is not: it may be damaged. {ADVICE}"
        ) from None


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without BOM: a CSV's ASCII (separators, emails, digits) puts a zero in one byte column
    while the other column has almost none. Non-Latin text (CJK code units have no zero byte) lowers
    the share of zeros, so a third is enough; the decode that follows must still succeed."""
    sample = data[:4096]
    if len(sample) < 8:
        return False
    even, odd = sample[0::2], sample[1::2]
    return (odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even)) or (
        even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd)
    )


def _cjk_codec(data: bytes) -> str | None:
    """A CJK double-byte codec that reads the file as CJK text, or None.

    Read as CJK, a Western file turns each accented letter and its neighbour into one ideograph
    wedged between Latin letters ("Müller" -> "M?ler"); real CJK text has its characters next to
    each other or to separators, not inside Latin words.
    """
    sample = data[:SAMPLE_BYTES]
    for codec in CJK_CODECS:
        try:
            text = codecs.getincrementaldecoder(codec)().decode(sample, final=len(data) <= SAMPLE_BYTES)
        except UnicodeDecodeError:
            continue
        wide = [i for i, c in enumerate(text) if ord(c) > 0x7F]
        if not wide or sum(1 for i in wide if _is_cjk(text[i])) < 0.8 * len(wide):
            continue
        wedged = sum(1 for i in wide if _ascii_letter(text, i - 1) or _ascii_letter(text, i + 1))
        if wedged <= 0.2 * len(wide):
            return codec
    return None


def _ascii_letter(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index].isascii() and text[index].isalpha()


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3000 <= code <= 0x30FF  # CJK punctuation, Hiragana, Katakana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
    )


def _refuse_utf7(text: str) -> None:
    """ASCII whose "+...-" runs UTF-7-decode to letters (J+APw-rgen = Jürgen) is UTF-7.

    Base64 values (tokens, hashes) hold such runs too, about one in 400 by chance: the file is
    refused only when most of its runs read as letters, not because one does. Plus addressing
    (jo+abc-news@example.com) and phone numbers (+4915…) are not runs.
    """
    runs = letters = 0
    first = None
    for match in _UTF7_RUN.finditer(text):
        run = match.group(0)
        if run.rstrip("-")[1:].isdigit() or "@" in _cell_around(text, match.start(), match.end()):
            continue
        runs += 1
        try:
            decoded = codecs.decode(run.encode("ascii"), "utf_7")
        except UnicodeDecodeError:
            continue
        if decoded and all(0xC0 <= ord(c) <= 0x24F or 0x3040 <= ord(c) <= 0x9FFF for c in decoded):
            letters += 1
            first = first or (run, decoded)
    if first and letters * 2 >= runs:
        raise EncodingRefused(
            f'The file looks UTF-7 encoded ("{first[0]}" would read as "{first[1]}"): '
            f"UTF-7 is not supported. {ADVICE}"
        )


def _cell_around(text: str, start: int, end: int) -> str:
    separators = ',;\t\r\n"'
    left = max(text.rfind(sep, 0, start) for sep in separators) + 1
    rights = [i for i in (text.find(sep, end) for sep in separators) if i >= 0]
    return text[left : min(rights) if rights else len(text)]


def _detected(data: bytes, *, default: str) -> str:
    best = from_bytes(data[:65536]).best()
    name = best.encoding if best else default
    return {"cp932": "Shift-JIS/cp932", "shift_jis": "Shift-JIS", "euc_jp": "EUC-JP"}.get(name, name)
