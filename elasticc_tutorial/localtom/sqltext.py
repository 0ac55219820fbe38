"""User SQL text for the local TOM: desc-tom's parameter binding, statement splitting, refusals.

desc-tom passes every query to psycopg2 as ``cursor.execute(query, subdict)`` with a dict (``{}``
when none was given), so psycopg2 always interpolates client-side: ``%(name)s`` takes a quoted
literal, ``%%`` is a literal percent and any other ``%`` is an error. :func:`bind` does the same in
one linear pass, with psycopg2's error texts. :func:`split_statements` cuts the bound text into
statements (psycopg2's simple query protocol runs them all and reads the last result), and
:func:`check_statement` refuses up front what could leave the always-rolled-back transaction or
change the session's role.
"""

from __future__ import annotations

import math
import re
from typing import Any

from elasticc_tutorial.errors import ElasticcTutorialError


class QueryError(ElasticcTutorialError):
    """A user error in a query request (bad fields, bad SQL, a limit); its text goes to the user."""


#: Added to psycopg2's terse ``dict is not a sequence`` so that users learn the ``%%`` rule.
PERCENT_HINT = (
    "dict is not a sequence (desc-tom always binds parameters psycopg2-style with a dict, so a "
    "literal percent sign must be written %% in the query, e.g. LIKE 'SN%%' or 5 %% 3; only "
    "%(name)s placeholders are allowed)"
)


def _quote_str(s: str) -> str:
    if "\x00" in s:
        raise QueryError("A string literal cannot contain NUL (0x00) characters.")
    s = s.replace("'", "''")
    if "\\" in s:  # psycopg2's E'' form: correct whatever standard_conforming_strings says
        return "E'" + s.replace("\\", "\\\\") + "'"
    return "'" + s + "'"


def literal(value: Any, *, lists_as_arrays: bool) -> str:
    """The SQL text psycopg2 substitutes for a JSON value (``lists_as_arrays``: a list is an
    ``ARRAY[...]``, else a top-level list is a tuple ``(a, b)``, as desc-tom converts them)."""
    if value is None:
        return "NULL"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return f" {value}" if value < 0 else str(value)  # " -1": never glue into "--"
    if isinstance(value, float):
        if math.isnan(value):
            return "'NaN'::float"
        if math.isinf(value):
            return "'Infinity'::float" if value > 0 else "'-Infinity'::float"
        return f" {value!r}" if value < 0 else repr(value)
    if isinstance(value, str):
        return _quote_str(value)
    if isinstance(value, list | tuple):
        inner = [literal(v, lists_as_arrays=True) for v in value]
        if isinstance(value, tuple) or not lists_as_arrays:
            return "(" + ", ".join(inner) + ")"
        return "ARRAY[" + ",".join(inner) + "]" if inner else "'{}'"
    raise QueryError(f"can't adapt type '{type(value).__name__}'")


def bind(query: str, subdict: dict[str, Any], *, lists_as_arrays: bool = False) -> str:
    """psycopg2's ``cursor.mogrify(query, subdict)`` for a dict, in one pass over ``query``."""
    out: list[str] = []
    pos = 0
    named = False
    n = len(query)
    cache: dict[str, str] = {}
    while True:
        i = query.find("%", pos)
        if i < 0:
            out.append(query[pos:])
            return "".join(out)
        out.append(query[pos:i])
        nxt = query[i + 1] if i + 1 < n else ""
        if nxt == "%":
            out.append("%")
            pos = i + 2
        elif nxt == "(":
            end = i + 2
            while end < n and query[end] not in ")%":
                end += 1
            if end >= n or query[end] != ")":
                raise QueryError("incomplete placeholder: '%(' without ')'")
            name = query[i + 2 : end]
            fmt = query[end + 1] if end + 1 < n else ""
            if fmt != "s":
                shown = fmt or "end of query"
                raise QueryError(
                    f"unsupported format character {shown!r} at index {end + 1}: use %({name})s"
                )
            if name not in cache:
                if name not in subdict:
                    raise QueryError(repr(name))  # psycopg2's KeyError text: 'name'
                cache[name] = literal(subdict[name], lists_as_arrays=lists_as_arrays)
            out.append(cache[name])
            named = True
            pos = end + 2
        elif named:
            raise QueryError(f"argument formats can't be mixed ({PERCENT_HINT})")
        else:
            raise QueryError(PERCENT_HINT)


# ------------------------------------------------------------------------------ splitting

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<line>--[^\n]*)
      | (?P<block>/\*)
      | (?P<estr>[eE]'(?:[^'\\]|\\.|'')*(?:'|\Z))
      | (?P<str>'(?:[^']|'')*(?:'|\Z))
      | (?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
      | (?P<ident>"(?:[^"]|"")*(?:"|\Z))
      | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
      | (?P<semi>;)
      | (?P<other>.)""",
    re.S | re.X,
)


class Statement:
    """One SQL statement: its text and its upper-cased top-level words (keywords, names)."""

    __slots__ = ("text", "words")

    def __init__(self, text: str, words: list[str]) -> None:
        self.text, self.words = text, words

    def starts(self, *words: str) -> bool:
        return tuple(self.words[: len(words)]) == words


def _skip_block_comment(sql: str, start: int) -> int:
    """The index after the (nested) block comment that opens at ``start``."""
    depth, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(sql)


def split_statements(sql: str) -> list[Statement]:
    """The statements of ``sql`` (split at top-level ``;``; strings, quoted names, dollar quotes
    and comments respected); statements holding only comments and blanks are dropped."""
    out: list[Statement] = []
    words: list[str] = []
    start, pos, content = 0, 0, False
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        assert m is not None  # the last alternative matches any character
        kind = m.lastgroup
        end = m.end()
        if kind == "block":
            end = _skip_block_comment(sql, pos)
        elif kind == "dollar":
            close = sql.find(m.group(), end)
            end = len(sql) if close < 0 else close + len(m.group())
            content = True
        elif kind == "semi":
            if content:
                out.append(Statement(sql[start:pos].strip(), words))
            start, words, content = end, [], False
        elif kind == "word":
            words.append(m.group().upper())
            content = True
        elif kind not in ("ws", "line"):
            content = True
        pos = end
    if content:
        out.append(Statement(sql[start:].strip(), words))
    return out


# ------------------------------------------------------------------------------- refusals

_TRANSACTION = {"COMMIT", "ROLLBACK", "BEGIN", "START", "END", "ABORT", "SAVEPOINT", "RELEASE"}
_SESSION = {"RESET", "DISCARD"}
_ROLE_OBJECTS = {"ROLE", "USER", "GROUP", "SYSTEM", "DATABASE"}


def refusal(stmt: Statement) -> str | None:
    """Why ``stmt`` is refused before anything runs, or None. Transaction control would let a
    request leave the transaction that is always rolled back; role and session changes would
    change who the query runs as or undo the server's settings."""
    w = stmt.words
    first = w[0] if w else ""
    what = None
    if first in _TRANSACTION or stmt.starts("PREPARE", "TRANSACTION"):
        what = "transaction control"
    elif first in _SESSION:
        what = "session reset"
    elif first == "SET":
        rest = w[2:] if w[1:2] in (["LOCAL"], ["SESSION"]) else w[1:]
        if (
            rest[:1] == ["ROLE"]
            or "AUTHORIZATION" in w[1:4]
            or w[1:3] == ["SESSION", "CHARACTERISTICS"]
        ):
            what = "role/session change"
    elif first in ("ALTER", "CREATE", "DROP") and w[1:2] and w[1] in _ROLE_OBJECTS:
        what = "role/database change"
    if what is None:
        return None
    shown = " ".join(w[:3]) or stmt.text[:30]
    return (
        f"{shown} is refused ({what}): each request runs in one transaction that is always "
        "rolled back, as the same role; COMMIT, ROLLBACK, BEGIN/START/END, SAVEPOINT/RELEASE, "
        "PREPARE TRANSACTION, SET ROLE, SET SESSION ..., RESET, DISCARD and ALTER/CREATE/DROP "
        "ROLE/USER/DATABASE/SYSTEM are not allowed"
    )


def is_plain_query(stmt: Statement) -> bool:
    """A row-returning query a server-side cursor can run (``DECLARE ... CURSOR FOR``): SELECT,
    WITH, VALUES or TABLE without a top-level ``INTO`` (``SELECT ... INTO`` creates a table)."""
    if not stmt.words or stmt.words[0] not in ("SELECT", "WITH", "VALUES", "TABLE"):
        return False
    return "INTO" not in _top_level_words(stmt.text)


def _top_level_words(sql: str) -> set[str]:
    """Upper-cased words outside parentheses, strings and comments."""
    words: set[str] = set()
    depth, pos = 0, 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        assert m is not None
        end = m.end()
        kind = m.lastgroup
        if kind == "block":
            end = _skip_block_comment(sql, pos)
        elif kind == "dollar":
            close = sql.find(m.group(), end)
            end = len(sql) if close < 0 else close + len(m.group())
        elif kind == "other":
            depth += {"(": 1, ")": -1}.get(m.group(), 0)
        elif kind == "word" and depth == 0:
            words.add(m.group().upper())
        pos = end
    return words
