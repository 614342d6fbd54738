"""The sliver of PowerShell script text the simulator runs: pipelines of commands with literal arguments.

Plain WinRM clients send script text: pypsrp's ``Client.execute_ps`` wraps it in
``Invoke-Expression -Command <script>``, ``PowerShell.add_script`` sends it as a script command, and
pywinrm's ``run_ps`` starts ``powershell -EncodedCommand``. The simulator does not interpret
PowerShell; it accepts what maps one to one onto cmdlet calls:

* statements separated by ``;`` or new lines, each a pipeline of commands joined by ``|``;
* named parameters (``-Name value``, ``-Name:value``, switches), positional arguments where the
  caller says which parameters take them;
* literal values: bare words, numbers, 'single-quoted' strings, "double-quoted" strings without
  ``$`` or backtick, comma lists, and ``$true``/``$false``/``$null``.

Anything else (variables, script blocks, sub-expressions, redirection, comments, ...) raises
:class:`NotSimulatedScript`, which the host reports as "not simulated: script text ...", never as
a parse error a real PowerShell would not give.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from attrs import frozen

# A bare word may hold letters, digits and the punctuation a node name, path or number carries.
# Everything with a meaning of its own in PowerShell ($ @ ( ) { } [ ] < > & # ` " ') is refused.
_BARE = re.compile(r"[A-Za-z0-9_.:\\/*?+%=^~!-]+")
_PARAM = re.compile(r"-([A-Za-z_][A-Za-z0-9_]*)(:?)$")
_LITERALS = {"$true": True, "$false": False, "$null": None}


class NotSimulatedScript(Exception):
    """Script text outside the subset above."""


@frozen
class _Tok:
    kind: str  # "word", "str", "param", "pipe", "end", "comma", "literal"
    text: str
    value: Any = None
    colon: bool = False  # -Name: (the value follows the colon)


@frozen
class ScriptCommand:
    name: str
    named: tuple[tuple[str, Any], ...]  # (name, value); a switch has value True
    positional: tuple[Any, ...]


_PUNCTUATION = {";": "end", "\r": "end", "\n": "end", "|": "pipe", ",": "comma"}


def _tokens(script: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(script)
    while i < n:
        c = script[i]
        if c in " \t":
            i += 1
            continue
        if c in _PUNCTUATION:
            if script[i:i + 2] == "||":
                raise NotSimulatedScript("the || operator")
            out.append(_Tok(_PUNCTUATION[c], c))
            i += 1
            continue
        read = _READERS.get(c, _bare_word)
        toks, i = read(script, i)
        out.extend(toks)
    return out


def _single_quoted(script: str, i: int) -> tuple[list[_Tok], int]:
    j, buf, n = i + 1, [], len(script)
    while True:
        if j >= n:
            raise NotSimulatedScript("an unterminated string")
        if script[j] == "'":
            if script[j + 1:j + 2] == "'":  # '' is one quote inside '...'
                buf.append("'")
                j += 2
                continue
            break
        buf.append(script[j])
        j += 1
    return [_Tok("str", script[i:j + 1], "".join(buf))], j + 1


def _double_quoted(script: str, i: int) -> tuple[list[_Tok], int]:
    j = script.find('"', i + 1)
    if j < 0:
        raise NotSimulatedScript("an unterminated string")
    body = script[i + 1:j]
    if "$" in body or "`" in body:
        raise NotSimulatedScript("expansion in a double-quoted string")
    return [_Tok("str", script[i:j + 1], body)], j + 1


def _dollar(script: str, i: int) -> tuple[list[_Tok], int]:
    m = re.match(r"\$[A-Za-z]+", script[i:])
    word = m.group(0).lower() if m else "$"
    if word not in _LITERALS:
        raise NotSimulatedScript(f"the variable or expression {script[i:i + 20]!r}")
    return [_Tok("literal", word, _LITERALS[word])], i + len(word)


def _bare_word(script: str, i: int) -> tuple[list[_Tok], int]:
    m = _BARE.match(script, i)
    if not m:
        raise NotSimulatedScript(f"the character {script[i]!r}")
    word = m.group(0)
    head, colon, rest = word.partition(":")
    pm = _PARAM.match(head + colon)
    if not pm:
        return [_Tok("word", word, _number(word))], m.end()
    toks = [_Tok("param", head + colon, pm.group(1), colon=bool(colon))]
    if rest:  # -First:2 in one word
        toks.append(_Tok("word", rest, _number(rest)))
    return toks, m.end()


_READERS: dict[str, Callable[[str, int], tuple[list[_Tok], int]]] = {
    "'": _single_quoted, '"': _double_quoted, "$": _dollar}


def _number(word: str) -> Any:
    if re.fullmatch(r"-?\d+", word):
        return int(word)
    if re.fullmatch(r"-?\d+\.\d+", word):
        return float(word)
    return word


def _value_tokens(toks: list[_Tok], i: int) -> tuple[Any, int]:
    """A literal value, or a comma list of them, starting at toks[i]."""
    values: list[Any] = []
    while True:
        if i >= len(toks) or toks[i].kind not in ("word", "str", "literal"):
            raise NotSimulatedScript("a parameter value that is not a literal")
        values.append(toks[i].value)
        i += 1
        if i < len(toks) and toks[i].kind == "comma":
            i += 1
            continue
        break
    return (values[0] if len(values) == 1 else values), i


def parse_script(script: str, is_switch: Callable[[str, str], bool]) -> list[list[ScriptCommand]]:
    """Script text -> statements, each a list of commands (a pipeline).

    ``is_switch(command, parameter)`` says whether a parameter takes no value (a switch does not
    consume the next word, as in PowerShell's binder).
    """
    toks = _tokens(script)
    statements: list[list[ScriptCommand]] = []
    pipeline: list[ScriptCommand] = []
    i = 0
    expect_command = True
    while i < len(toks):
        tok = toks[i]
        if tok.kind == "end":
            if pipeline and expect_command:
                # A new line after | continues the pipeline; a ; there leaves it empty.
                if tok.text == ";":
                    raise NotSimulatedScript("an empty pipeline element")
                i += 1
                continue
            if pipeline:
                statements.append(pipeline)
                pipeline = []
            expect_command = True
            i += 1
            continue
        if tok.kind == "pipe":
            if not pipeline or expect_command:
                raise NotSimulatedScript("an empty pipeline element")
            expect_command = True
            i += 1
            continue
        if tok.kind != "word" or not isinstance(tok.value, str):
            raise NotSimulatedScript(f"{tok.text!r} where a command name belongs")
        command, i = _command(toks, i, is_switch)
        pipeline.append(command)
        expect_command = False
    if pipeline and expect_command:
        raise NotSimulatedScript("an empty pipeline element")
    if pipeline:
        statements.append(pipeline)
    return statements


def _command(toks: list[_Tok], i: int,
             is_switch: Callable[[str, str], bool]) -> tuple[ScriptCommand, int]:
    """The command whose name is toks[i], with its arguments up to the next | or statement end."""
    name = toks[i].text
    i += 1
    named: list[tuple[str, Any]] = []
    positional: list[Any] = []
    while i < len(toks) and toks[i].kind not in ("end", "pipe"):
        t = toks[i]
        if t.kind == "param":
            pname = str(t.value)
            if t.colon:
                value, i = _value_tokens(toks, i + 1)
                named.append((pname, value))
            elif is_switch(name, pname) or i + 1 >= len(toks) or toks[i + 1].kind in (
                    "param", "end", "pipe"):
                named.append((pname, True))
                i += 1
            else:
                value, i = _value_tokens(toks, i + 1)
                named.append((pname, value))
        elif t.kind == "comma":
            raise NotSimulatedScript("a leading comma")
        else:
            value, i = _value_tokens(toks, i)
            positional.append(value)
    return ScriptCommand(name, tuple(named), tuple(positional)), i
