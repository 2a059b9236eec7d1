"""A structural parser for GNU ld linker scripts.

It reads the parts of the command language (ld manual, "Linker Scripts") that
spacer rewrites: the ``SECTIONS`` command with its output section descriptions,
their input section descriptions and symbol assignments, ``PHDRS`` and
``INSERT [AFTER|BEFORE]``. Expressions are kept as text: spacer never evaluates
them, it splices new text at the offsets it found, so everything it does not
rewrite reaches the linker exactly as the original script had it.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from spacer.core.errors import BadInput

PUNCT = set("{}();,:=")
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


def tokenize(text: str, path: str = "<script>") -> list[Token]:
    """Split into words, strings and ``{}();,:=``; comments vanish."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise BadInput("unterminated comment in linker script", path)
            i = j + 2
        elif c == '"':
            j = text.find('"', i + 1)
            if j < 0:
                raise BadInput("unterminated string in linker script", path)
            tokens.append(Token(text[i:j + 1], i, j + 1))
            i = j + 1
        elif c in PUNCT:
            tokens.append(Token(c, i, i + 1))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in PUNCT \
                    and not text.startswith("/*", j) and text[j] != '"':
                j += 1
            tokens.append(Token(text[i:j], i, j))
            i = j
    return tokens


@dataclass(frozen=True)
class InputSpec:
    """``[KEEP(] file(sections) [)]``: which input sections a statement collects."""

    start: int
    end: int
    keep: bool
    file: str  # file name pattern, "*" for all files
    exclude_files: tuple[str, ...]
    sections: tuple[str, ...]  # section name patterns, SORT wrappers removed
    file_start: int = -1  # offset of the file pattern (or of an EXCLUDE_FILE before it)

    def matches(self, path: str, section: str) -> bool:
        if not _file_match(self.file, path):
            return False
        if any(_file_match(x, path) for x in self.exclude_files):
            return False
        return any(fnmatch.fnmatchcase(section, pat) for pat in self.sections)


def _file_match(pattern: str, path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(base, pattern)


@dataclass(frozen=True)
class BodyItem:
    """One statement in an output section's body: an input spec or anything else."""

    start: int
    end: int
    spec: InputSpec | None  # None for assignments, data commands, etc.


@dataclass(frozen=True)
class OutputSection:
    name: str
    start: int  # offset of the name
    end: int  # offset after the trailer (phdrs, fill, regions)
    header_end: int  # offset after the ':' that ends the header
    body_start: int  # offset after '{'
    body_end: int  # offset of '}'
    has_address: bool
    items: tuple[BodyItem, ...]
    phdrs: tuple[str, ...]  # explicit ':phdr' names in the trailer
    trailer: str  # text after '}', e.g. " :text"


@dataclass(frozen=True)
class Statement:
    """A top-level statement inside SECTIONS that is not an output section."""

    start: int
    end: int
    text: str


@dataclass
class Script:
    path: str
    text: str
    sections_start: int = -1  # offset after 'SECTIONS {'
    sections_end: int = -1  # offset of its closing '}'
    order: list[OutputSection | Statement] = field(default_factory=list)
    phdrs: list[str] = field(default_factory=list)
    phdr_ends: dict[str, int] = field(default_factory=dict)  # offset after each one's ';'
    insert: tuple[str, str] | None = None  # ("AFTER", ".rodata")

    @property
    def outputs(self) -> list[OutputSection]:
        return [o for o in self.order if isinstance(o, OutputSection)]

    def output(self, name: str) -> OutputSection | None:
        return next((o for o in self.outputs if o.name == name), None)


class _Parser:
    def __init__(self, text: str, path: str):
        self.text = text
        self.path = path
        self.toks = tokenize(text, path)
        self.i = 0

    def error(self, what: str) -> BadInput:
        tok = self.toks[min(self.i, len(self.toks) - 1)] if self.toks else None
        line = self.text.count("\n", 0, tok.start) + 1 if tok else 1
        return BadInput(f"line {line}: {what}", self.path, "is this a GNU ld linker script?")

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of script")
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        tok = self.take()
        if tok.text != text:
            raise self.error(f"expected '{text}', found '{tok.text}'")
        return tok

    def skip_balanced(self) -> Token:
        """Consume from an opening '(' or '{' to its partner; return the closing token."""
        open_tok = self.take()
        pair = {"(": ")", "{": "}"}[open_tok.text]
        depth = 1
        while True:
            tok = self.take()
            if tok.text == open_tok.text:
                depth += 1
            elif tok.text == pair:
                depth -= 1
                if depth == 0:
                    return tok

    # --- top level -------------------------------------------------------
    def parse(self) -> Script:
        script = Script(self.path, self.text)
        while self.peek() is not None:
            tok = self.take()
            word = tok.text
            if word == "SECTIONS":
                script.sections_start = self.expect("{").end
                self.parse_sections(script)
            elif word == "PHDRS":
                self.expect("{")
                self.parse_phdrs(script)
            elif word == "INSERT":
                where = self.take().text
                script.insert = (where, self.take().text)
            elif self.peek() is not None and self.peek().text in "({":
                self.skip_balanced()  # ENTRY(...), MEMORY {...}, OUTPUT_FORMAT(...)
        return script

    def parse_phdrs(self, script: Script) -> None:
        while True:
            tok = self.take()
            if tok.text == "}":
                return
            script.phdrs.append(tok.text)
            while (end := self.take()).text != ";":
                pass
            script.phdr_ends[tok.text] = end.end

    def parse_sections(self, script: Script) -> None:
        while True:
            tok = self.peek()
            if tok is None:
                raise self.error("SECTIONS is not closed")
            if tok.text == "}":
                script.sections_end = tok.start
                self.take()
                return
            if tok.text == ";":
                self.take()
                continue
            script.order.append(self.parse_top_statement())

    def parse_top_statement(self) -> OutputSection | Statement:
        first = self.i
        head, nxt = self.peek(), self.peek(1)
        if head.text in _STATEMENT_FUNCS and nxt is not None and nxt.text == "(":
            # ASSERT(...), PROVIDE(...): a ';' after them is optional
            self.take()
            last = self.skip_balanced()
            if self.peek() is not None and self.peek().text == ";":
                last = self.take()
            return self._statement_span(head.start, last.end)
        depth = 0
        for j in range(self.i, len(self.toks)):
            t = self.toks[j].text
            if t == "(":
                depth += 1
            elif t == ")":
                depth -= 1
            elif depth == 0 and t == ";":
                self.i = j + 1
                return self._statement_span(self.toks[first].start, self.toks[j].end)
            elif depth == 0 and t == "{":
                return self.parse_output_section(first, j)
            elif depth == 0 and t == "}":
                self.i = j
                return self._statement_span(self.toks[first].start, self.toks[j - 1].end)
        raise self.error("statement is not closed")

    def _statement_span(self, start: int, end: int) -> Statement:
        return Statement(start, end, self.text[start:end])

    def parse_output_section(self, first: int, brace: int) -> OutputSection:
        header = self.toks[first:brace]
        if not header:
            raise self.error("'{' where an output section name should be")
        colon = next((k for k, t in enumerate(header) if t.text == ":"), None)
        if colon is None:
            raise self.error(f"output section '{header[0].text}' has no ':'")
        name = header[0].text
        has_address = colon > 1 and header[1].text not in ("(",)
        if colon > 1 and header[1].text == "(":
            # ".x (NOLOAD) :" is a type, ".x (0x1000) :" would be an address expression
            has_address = not re.fullmatch(r"\s*(NOLOAD|DSECT|COPY|INFO|OVERLAY|READONLY)\s*",
                                           self.text[header[1].end:header[-1].start].split(")")[0])
        self.i = brace
        open_tok = self.take()
        items = self.parse_body()
        close_tok = self.take()  # '}'
        phdrs: list[str] = []
        end = close_tok.end
        while (tok := self.peek()) is not None:
            if tok.text == ":" and self.peek(1) is not None:
                self.take()
                phdrs.append(self.take().text)
            elif tok.text.startswith(">") or tok.text.startswith("AT>"):
                self.take()
                if tok.text in (">", "AT>"):
                    self.take()
            elif tok.text == "=":
                self.take()
                self.take()
            elif tok.text == ",":
                self.take()
            else:
                break
            end = self.toks[self.i - 1].end
        return OutputSection(
            name=name, start=header[0].start, end=end, header_end=header[colon].end,
            body_start=open_tok.end, body_end=close_tok.start, has_address=has_address,
            items=tuple(items), phdrs=tuple(phdrs), trailer=self.text[close_tok.end:end],
        )

    # --- output section bodies ---------------------------------------------
    def parse_body(self) -> list[BodyItem]:
        items: list[BodyItem] = []
        while True:
            tok = self.peek()
            if tok is None:
                raise self.error("output section is not closed")
            if tok.text == "}":
                return items
            if tok.text == ";":
                self.take()
                continue
            items.append(self.parse_body_item())

    def parse_body_item(self) -> BodyItem:
        first = self.peek()
        nxt = self.peek(1)
        word = first.text
        if word == "KEEP" and nxt is not None and nxt.text == "(":
            self.take()
            self.take()
            spec = self.parse_input_spec(keep=True, start=first.start)
            close = self.expect(")")
            spec = InputSpec(first.start, close.end, True, spec.file, spec.exclude_files,
                             spec.sections, spec.file_start)
            return BodyItem(spec.start, spec.end, spec)
        if word == "EXCLUDE_FILE" or (nxt is not None and nxt.text == "(" and
                                      _looks_like_file_pattern(word)):
            spec = self.parse_input_spec(keep=False, start=first.start)
            return BodyItem(spec.start, spec.end, spec)
        # anything else runs to the next ';' at depth 0 (or to a lone word like CONSTRUCTORS)
        if nxt is None or nxt.text in ("}",) or (nxt.text not in ("=", "(") and
                                                  not nxt.text.endswith("=")):
            if nxt is not None and nxt.text == ";":
                self.take()
                end = self.take().end
            else:
                end = self.take().end
            return BodyItem(first.start, end, None)
        depth = 0
        while True:
            tok = self.take()
            if tok.text in "({":
                depth += 1
            elif tok.text in ")}":
                depth -= 1
                if depth == 0 and self.peek() is not None and self.peek().text != ";" \
                        and word in _STATEMENT_FUNCS:
                    return BodyItem(first.start, tok.end, None)
            elif tok.text == ";" and depth == 0:
                return BodyItem(first.start, tok.end, None)

    def parse_input_spec(self, keep: bool, start: int) -> InputSpec:
        excludes: list[str] = []
        file_start = self.peek().start
        if self.peek() is not None and self.peek().text == "EXCLUDE_FILE":
            self.take()
            self.expect("(")
            while (t := self.take()).text != ")":
                excludes.append(t.text)
        file_tok = self.take()
        self.expect("(")
        sections: list[str] = []
        depth = 1
        while True:
            tok = self.take()
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                depth -= 1
                if depth == 0:
                    break
            elif tok.text == "EXCLUDE_FILE":
                self.expect("(")
                while (t := self.take()).text != ")":
                    excludes.append(t.text)
            elif tok.text in _SORT_WORDS or tok.text == ",":
                continue
            else:
                sections.append(tok.text)
        return InputSpec(start, tok.end, keep, file_tok.text, tuple(excludes), tuple(sections),
                         file_start)


_SORT_WORDS = {"SORT", "SORT_BY_NAME", "SORT_BY_ALIGNMENT", "SORT_BY_INIT_PRIORITY",
               "SORT_NONE", "REVERSE", "INPUT_SECTION_FLAGS"}
_STATEMENT_FUNCS = {"ASSERT", "PROVIDE", "PROVIDE_HIDDEN", "HIDDEN", "FILL", "BYTE", "SHORT",
                    "LONG", "QUAD", "SQUAD"}
_KEYWORDS = _STATEMENT_FUNCS | {"ALIGN", "ABSOLUTE", "ADDR", "SIZEOF", "LOADADDR", "DEFINED",
                                "KEEP", "CONSTRUCTORS", "SUBALIGN", "AT", "MAX", "MIN"}


def _looks_like_file_pattern(word: str) -> bool:
    if "*" in word or "?" in word:
        return True
    return word not in _KEYWORDS and not word.startswith(".")


def parse_script(text: str, path: str = "<script>") -> Script:
    """Parse ``text``; :class:`BadInput` names the file and line on anything it cannot read."""
    return _Parser(text, path).parse()
