"""Literals: the text of a CEL string literal to its value, by the rules of the CEL language
definition (doc/langdef.md, "String and Bytes Values") — not Python's.

CEL's escapes are ``\\\\ \\? \\" \\' \\` \\a \\b \\f \\n \\r \\t \\v``, ``\\xHH`` and ``\\XHH``,
``\\uHHHH``, ``\\UHHHHHHHH`` and three octal digits ``\\000``–``\\377``; any other backslash is
a syntax error (``"\\s"``, ``"^closed\\.won$"``: write ``\\\\.`` or a raw string
``r"^closed\\.won$"``), and so is a surrogate or a code point past U+10FFFF. A raw string
(``r"…"``) keeps every backslash. Line ends inside a triple-quoted string are read as ``\\n``.
"""

from __future__ import annotations

from revfield.errors import RevfieldError

__all__ = ["LiteralError", "decode_string"]

_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "?": "?",
    '"': '"',
    "'": "'",
    "`": "`",
}
_HEX_DIGITS = {"x": 2, "X": 2, "u": 4, "U": 8}
_HEX = frozenset("0123456789abcdefABCDEF")
_HELP = (
    "CEL escapes are \\\\ \\? \\\" \\' \\` \\a \\b \\f \\n \\r \\t \\v, \\xHH, \\uHHHH, "
    '\\UHHHHHHHH and \\000–\\377; write \\\\ for a backslash, or use a raw string r"…"'
)


class LiteralError(RevfieldError, ValueError):
    """A string literal CEL does not accept; ``offset`` is where in the token's text (the
    compiler turns it into a :class:`CelError` there)."""

    def __init__(self, message: str, offset: int, help: str = _HELP) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.help = help


def decode_string(text: str) -> str:
    """The value of the string literal token ``text`` (quotes and prefix included)."""
    start = 0
    raw = text[:1] in ("r", "R")
    if raw:
        start = 1
    if text[start : start + 3] in ('"""', "'''"):
        quote = text[start : start + 3]
    else:
        quote = text[start : start + 1]
    body_start = start + len(quote)
    body = text[body_start : len(text) - len(quote)]
    if raw:
        if len(quote) == 1 and quote in body:
            raise LiteralError(
                f"a raw string can't contain its own quote character {quote}",
                body_start + body.index(quote),
                "use the other quote character, or a triple-quoted raw string",
            )
        return _newlines(body)
    if "\\" not in body:
        return _newlines(body)
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            if ch == "\r":  # a line end in the source, not an escape: read as \n
                ch = "\n"
                if body[i + 1 : i + 2] == "\n":
                    i += 1
            out.append(ch)
            i += 1
            continue
        at = body_start + i
        if i + 1 >= len(body):
            raise LiteralError("a backslash ends the string", at)
        code = body[i + 1]
        if code in _SIMPLE:
            out.append(_SIMPLE[code])
            i += 2
        elif code in _HEX_DIGITS:
            n = _HEX_DIGITS[code]
            digits = body[i + 2 : i + 2 + n]
            if len(digits) != n or not set(digits) <= _HEX:
                raise LiteralError(
                    f"`\\{code}` needs {n} hexadecimal digits", at, f"e.g. \\{code}{'0' * (n - 1)}A"
                )
            out.append(_code_point(int(digits, 16), at))
            i += 2 + n
        elif code in "0123":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(d in "01234567" for d in digits):
                raise LiteralError(
                    "an octal escape is three digits, \\000 to \\377", at, "e.g. \\101 for A"
                )
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            shown = "\\" + code if code.isprintable() else f"\\ followed by {code!r}"
            raise LiteralError(f"`{shown}` is not an escape sequence in CEL", at)
    return "".join(out)


def _code_point(value: int, at: int) -> str:
    if 0xD800 <= value <= 0xDFFF:
        raise LiteralError(
            f"U+{value:04X} is a surrogate, not a Unicode code point",
            at,
            "write the character itself, or \\U and its eight-digit code point",
        )
    if value > 0x10FFFF:
        raise LiteralError(
            f"U+{value:X} is beyond the last Unicode code point", at, "the last is \\U0010FFFF"
        )
    return chr(value)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text
