"""Split a shell command line into the simple commands it runs, for permission matching.

    split_compound("ls && (cd x; rm y) | tee $(curl z)")
        -> ["ls", "cd x", "rm y", "tee $(curl z)", "curl z"]

Separators: `;` `&&` `||` `|` `|&` `&` newlines and subshell parentheses. Command
substitutions `$( )`, backticks and `<( )` / `>( )` — also inside double quotes, where
the shell still runs them — add their inner commands as parts of their own, and
`bash -c '…'`, `sh -c '…'`, `eval …` add the commands in their string. Quoted text
is otherwise kept whole; redirections (`2>&1`, `&>`) are not separators.

It is not a shell parser: where it is unsure it yields more parts, never fewer, so an
allow rule has more to match (asking more), and a deny rule more to catch.
"""
from __future__ import annotations

import shlex

_SHELLS = {"sh", "bash", "zsh", "dash", "ksh"}


def split_compound(command: str) -> list[str]:
    """The simple commands in `command`, outermost first, substitutions after their parent."""
    parts: list[str] = []
    _split(command, parts, depth=0)
    return parts


def _split(command: str, out: list[str], depth: int) -> None:
    if depth > 8:  # absurd nesting: give the whole text back as one (unmatched) part
        out.append(command.strip())
        return
    buf: list[str] = []
    nested: list[str] = []   # inner commands of substitutions in the current part
    i, n = 0, len(command)

    def flush() -> None:
        text = "".join(buf).strip()
        buf.clear()
        if text:
            out.append(text)
            for inner in _shell_c(text):
                _split(inner, out, depth + 1)
        for inner in nested:
            _split(inner, out, depth + 1)
        nested.clear()

    while i < n:
        ch = command[i]
        if ch == "'":
            j = command.find("'", i + 1)
            j = n if j < 0 else j + 1
            buf.append(command[i:j])
            i = j
        elif ch == '"':
            j = i + 1
            while j < n and command[j] != '"':
                if command[j] == "\\":
                    j += 2
                    continue
                if command.startswith("$(", j) or command[j] == "`":
                    j = _substitution(command, j, nested)
                    continue
                j += 1
            buf.append(command[i:j + 1])
            i = j + 1
        elif ch == "\\":
            buf.append(command[i:i + 2])
            i += 2
        elif command.startswith("$((", i):  # arithmetic: nothing runs
            j = command.find("))", i)
            j = n if j < 0 else j + 2
            buf.append(command[i:j])
            i = j
        elif command.startswith(("$(", "<(", ">("), i) or ch == "`":
            j = _substitution(command, i, nested)
            buf.append(command[i:j])
            i = j
        elif command.startswith(("&>", ">&", "<&"), i):  # redirections, not separators
            buf.append(command[i:i + 2])
            i += 2
        elif ch in ";|&\n()":
            flush()
            i += 1
        else:
            buf.append(ch)
            i += 1
    flush()


def _substitution(command: str, i: int, nested: list[str]) -> int:
    """Record the inner command of the substitution starting at `i`; return its end."""
    if command[i] == "`":
        j = command.find("`", i + 1)
        j = len(command) if j < 0 else j
        nested.append(command[i + 1:j])
        return j + 1
    start = i + 2
    depth, j, quote = 1, start, None
    while j < len(command) and depth:
        c = command[j]
        if quote:
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"':
                j += 1
        elif c in "'\"":
            quote = c
        elif c == "\\":
            j += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        j += 1
    nested.append(command[start:j - 1 if depth == 0 else j])
    return j


def _shell_c(part: str) -> list[str]:
    """The command strings a part hands to another shell (`bash -c S`, `eval S`)."""
    try:
        words = shlex.split(part)
    except ValueError:
        return []
    if not words:
        return []
    if words[0] == "eval" and len(words) > 1:
        return [" ".join(words[1:])]
    if words[0].rsplit("/", 1)[-1] in _SHELLS and "-c" in words[1:]:
        k = words.index("-c")
        return words[k + 1:k + 2]
    return []
