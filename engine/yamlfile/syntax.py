"""YAML parser errors in plain words: what is wrong at which line:column, and the likely fix.

ruamel.yaml reports where its parser gave up ("mapping values are not allowed here", "expected <block end>, but
found ..."); most of those come from a handful of mistakes (a tab, a line indented more or less than its
neighbours, a missing space after a colon, an unclosed quote or bracket). The text is read around the marks to
tell which one it is; anything else keeps the parser's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

_KEY_SEP = re.compile(r":(?=\s|$)")  # ':' that ends a key (followed by a space or the end of the line)
_GLUED = re.compile(r"^([A-Za-z_][\w-]*):(?=\S)")  # 'id:post-op': a key and value with no space between
_DUPLICATE = re.compile(r'found duplicate key "(.*)" with value')
_TAG = re.compile(r"(?:^|\s)(!!?[\w-]*)(?=\s|$)")  # an explicit YAML tag such as '!!int'
_CLOSERS = {"flow sequence": ("[", "]", "list"), "flow mapping": ("{", "}", "mapping")}


@dataclass(frozen=True, slots=True)
class Explained:
    line: int  # 1-based
    column: int
    message: str


@dataclass(frozen=True, slots=True)
class _Text:
    lines: list[str]

    def line(self, number: int) -> str:
        """Line ``number`` (1-based), or '' past the end."""
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def above(self, number: int) -> list[tuple[int, str]]:
        """The lines with content above line ``number``, nearest first (blank and comment lines skipped)."""
        found = []
        for n in range(number - 1, 0, -1):
            stripped = self.line(n).strip()
            if stripped and not stripped.startswith("#"):
                found.append((n, self.line(n)))
        return found


def explain_unmarked(exc: Exception, text: str) -> Explained:
    """An error the YAML library raised without a place (a tag it could not apply, as in '!!int x')."""
    src = _Text([line.rstrip("\r") for line in text.split("\n")])
    for number, line in enumerate(src.lines, start=1):
        match = _TAG.search(line)
        if match is not None:
            tag = match.group(1)
            return Explained(
                number,
                match.start(1) + 1,
                f"YAML syntax: the YAML tag '{tag}' cannot be applied to its value ({exc}): remove the tag",
            )
    return Explained(1, 1, f"YAML syntax: the file cannot be read as YAML ({exc})")


def explain(exc: MarkedYAMLError, text: str) -> Explained:
    """The error at the place to fix it, in words an editor of journeys.yaml follows."""
    src = _Text([line.rstrip("\r") for line in text.split("\n")])
    problem, context = str(exc.problem or ""), str(exc.context or "")
    mark, start = _mark(exc.problem_mark), _mark(exc.context_mark)
    if isinstance(exc, DuplicateKeyError):
        return _duplicate(src, problem, mark, start)
    found = _scanner(src, problem, context, mark, start) or _parser(src, problem, context, mark, start)
    if found is not None:
        return found
    where = start if mark == (1, 1) and start != (1, 1) else mark
    return Explained(*where, f"YAML syntax: {' '.join(p for p in (context, problem) if p)}")


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _scanner(src: _Text, problem: str, context: str, mark: tuple[int, int], start: tuple[int, int]) -> Explained | None:
    if "that cannot start any token" in problem:
        return _bad_character(src, mark)
    if problem == "mapping values are not allowed here":
        return _stray_colon(src, mark)
    if problem == "could not find expected ':'":
        return _no_colon(src, start)
    if problem == "sequence entries are not allowed here":
        key = src.line(mark[0])[: mark[1] - 1].split(":")[0].strip(" -")
        return Explained(
            *mark,
            f"YAML syntax: a list cannot start on the same line as its key: put '- ...' on the next line, "
            f"indented under '{key}:' (or write the list in brackets: {key}: [a, b])",
        )
    if "quoted scalar" in context:
        return _unclosed_quote(src, problem, start)
    if problem.startswith("found undefined alias"):
        name = problem.removeprefix("found undefined alias").strip(" '")
        return Explained(
            *mark,
            f"YAML syntax: '*{name}' refers to an anchor '&{name}' that is not defined above it: define the anchor, "
            f"or put the value in quotes if the '*' is part of the text",
        )
    return None


def _parser(src: _Text, problem: str, context: str, mark: tuple[int, int], start: tuple[int, int]) -> Explained | None:
    kind = next((k for k in _CLOSERS if k in context), None)
    if kind is not None and problem.startswith("expected ','"):
        return _unclosed_bracket(src, kind, problem, mark, start)
    if not problem.startswith("expected <block end>, but found"):
        return None
    found = problem.removeprefix("expected <block end>, but found ").strip("'")
    if found in ("-", "<block sequence start>"):
        return _list_item(src, mark)
    if found in ("]", "}"):
        return Explained(
            *mark, f"YAML syntax: the '{found}' at line {mark[0]} column {mark[1]} closes nothing: remove it"
        )
    if found == "<scalar>" and src.line(mark[0])[: mark[1] - 1].rstrip()[-1:] in ('"', "'"):
        return Explained(
            *mark,
            f"YAML syntax: text after the closing quote on line {mark[0]}: put the whole value inside the quotes",
        )
    return _indentation(src, mark[0])


def _bad_character(src: _Text, mark: tuple[int, int]) -> Explained:
    line, column = mark
    char = src.line(line)[column - 1 : column]
    if char == "\t" and not src.line(line)[: column - 1].strip():
        return Explained(
            line,
            column,
            f"YAML syntax: YAML does not allow tabs for indentation: replace the tab at line {line} column {column} "
            f"with spaces",
        )
    if char == "\t":
        return Explained(
            line,
            column,
            f"YAML syntax: YAML does not allow a tab here: replace the tab at line {line} column {column} with a space",
        )
    return Explained(
        line,
        column,
        f"YAML syntax: a value cannot start with {char!r} (YAML reserves it): put the value in quotes, "
        f'e.g. "{char}..."',
    )


def _stray_colon(src: _Text, mark: tuple[int, int]) -> Explained | None:
    """':' where no key can start: a value with ': ' in it, a missing space above, or a line indented too far."""
    line, column = mark
    text = src.line(line)
    first = _KEY_SEP.search(text)
    if first is not None and first.start() < column - 1:
        key = _key(text)
        return Explained(
            line,
            first.end() + 2,
            f"YAML syntax: the value of '{key}' on line {line} contains ': ', which YAML reads as another key: "
            f'put the value in quotes, e.g. {key}: "..."',
        )
    above = src.above(line)
    if above:
        glued = _glued(*above[0])
        if glued is not None:
            return glued
    return _indentation(src, line)


def _no_colon(src: _Text, start: tuple[int, int]) -> Explained:
    line = start[0]
    glued = _glued(line, src.line(line))
    if glued is not None:
        return glued
    word = src.line(line).strip().lstrip("- ").split(" ")[0]
    return Explained(
        line,
        _indent(src.line(line)) + 1,
        f"YAML syntax: line {line} has no ':' after '{word}': a key needs ': ' before its value (if the line "
        f"continues the value above it, put that value in quotes)",
    )


def glued_key(text: str) -> tuple[str, str] | None:
    """('id', 'post-op') for 'id:post-op': text that was meant as a key and value but has no space after ':'."""
    match = _GLUED.match(text)
    if match is None or _KEY_SEP.search(text):
        return None
    return match.group(1), text[match.end() :].split(" #", maxsplit=1)[0].strip()


def _glued(line: int, text: str) -> Explained | None:
    """'id:post-op' on a line with no other key: the colon needs a space after it."""
    column = _key_column(text)
    glued = glued_key(text[column:])
    if glued is None:
        return None
    key, rest = glued
    return Explained(
        line,
        column + len(key) + 1,
        f"YAML syntax: missing space after the colon on line {line}: write '{key}: {rest}', not '{key}:{rest}'",
    )


def _indentation(src: _Text, line: int) -> Explained | None:
    """A line indented more or less than the keys around it."""
    text, above = src.line(line), src.above(line)
    if not above:
        return None
    spaces, this = _indent(text), _label(text)
    near_line, near = above[0]
    width, that = _key_column(near), _label(near)
    start = f"YAML syntax: line {line} is indented by {_spaces(spaces)} but the keys around it by {width}"
    if spaces > width:
        return Explained(
            line,
            spaces + 1,
            f"{start} ({that} on line {near_line}): {that} already has a value, so nothing can be nested under it; "
            f"indent {this} by {width} like {that}",
        )
    if spaces == width:
        return None
    outer = next(((n, t) for n, t in above if _key_column(t) < spaces), None)
    also = f", or by {_key_column(outer[1])} to put it beside {_label(outer[1])} on line {outer[0]}" if outer else ""
    return Explained(
        line,
        spaces + 1,
        f"{start} ({that} on line {near_line}): indent {this} by {width} to keep it with them{also}",
    )


def _list_item(src: _Text, mark: tuple[int, int]) -> Explained:
    line = mark[0]
    spaces = _indent(src.line(line))
    above = src.above(line)
    items = [(n, _indent(t)) for n, t in above if t.lstrip().startswith("-") and _indent(t) != spaces]
    deeper = next((i for i in items if i[1] > spaces), None)
    shallower = next((i for i in items if i[1] < spaces), None)
    found = [item for item in (deeper, shallower) if item is not None]
    lists = [f"by {width} to make it an item of the list on line {n}" for n, width in found]
    among = bool(above) and not above[0][1].lstrip().startswith("-") and _key_column(above[0][1]) == spaces
    fixes = []
    if among or not lists:
        fixes.append("a list must be the value of a key with nothing after its ':', its items indented under it")
    if lists:
        fixes.append(f"indent its '-' {' or '.join(lists)}")
    what = (
        f"stands among keys ({_label(above[0][1])} on line {above[0][0]} is indented the same)"
        if among
        else f"is indented by {_spaces(spaces)}, unlike the items of the lists above it"
    )
    return Explained(
        line, spaces + 1, f"YAML syntax: the list item ('- ') on line {line} {what}: {'; or '.join(fixes)}"
    )


def _unclosed_quote(src: _Text, problem: str, start: tuple[int, int]) -> Explained:
    line, column = start
    quote = src.line(line)[column - 1 : column] or '"'
    if "escape" in problem:
        return Explained(
            line,
            column,
            f"YAML syntax: in the double-quoted value at line {line} column {column}, '\\' starts an escape: "
            f"write '\\\\' for a backslash, or use single quotes",
        )
    return Explained(
        line,
        column,
        f"YAML syntax: the {quote} at line {line} column {column} opens a quoted value that is never closed: "
        f"add the closing {quote} at the end of the value",
    )


def _unclosed_bracket(src: _Text, kind: str, problem: str, mark: tuple[int, int], start: tuple[int, int]) -> Explained:
    opener, closer, what = _CLOSERS[kind]
    head = f"YAML syntax: the '{opener}' at line {start[0]} column {start[1]}"
    if problem.endswith("'<stream end>'"):
        return Explained(*start, f"{head} is never closed: end the {what} with '{closer}'")
    text = src.line(mark[0])
    if mark[0] == start[0] and closer in text[mark[1] :]:
        # Closed further on the same line: an entry before the parser's stop is missing its ','.
        before = text[: mark[1] - 1].rstrip()
        word = before.split(" ")[-1].lstrip(opener)
        column = len(before) - len(word) + 1
        return Explained(
            mark[0],
            column,
            f"YAML syntax: a ',' is missing before '{word}' at line {mark[0]} column {column}: entries inside "
            f"'{opener}{closer}' are separated by ', '",
        )
    return Explained(
        *start,
        f"{head} is not closed before line {mark[0]} column {mark[1]}: end the {what} with '{closer}', "
        f"and separate its entries with ','",
    )


def _duplicate(src: _Text, problem: str, mark: tuple[int, int], start: tuple[int, int]) -> Explained:
    match = _DUPLICATE.search(problem)
    key = match.group(1) if match else "?"
    first = next(
        (n for n in range(start[0], mark[0]) if _key_column(src.line(n)) == mark[1] - 1 and _key(src.line(n)) == key),
        None,
    )
    where = f" (first on line {first})" if first is not None else ""
    return Explained(
        *mark, f"YAML syntax: duplicate key '{key}' in the same mapping{where}: remove one, or merge the two"
    )


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _key_column(text: str) -> int:
    """Where a line's key starts: after its indentation and any '- ' list markers."""
    column = _indent(text)
    while text[column : column + 1] == "-" and text[column + 1 : column + 2] in (" ", ""):
        column += 1
        column += len(text[column:]) - len(text[column:].lstrip(" "))
    return column


def _label(text: str) -> str:
    """'version:' for a line with a key, else the line's text."""
    body = text[_key_column(text) :]
    return f"'{_key(text)}:'" if _KEY_SEP.search(body) else f"'{text.strip()}'"


def _key(text: str) -> str:
    """The key a line starts with ('version' for '    version: 1'), or its first word."""
    body = text[_key_column(text) :]
    sep = _KEY_SEP.search(body)
    return (body[: sep.start()] if sep else body.split(" ")[0]).strip()


def _spaces(n: int) -> str:
    return f"{n} space" if n == 1 else f"{n} spaces"
