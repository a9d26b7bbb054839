"""``# noqa`` exactly as flake8 reads it, for the standalone CLI (flake8 does its own)."""

from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, List, Optional

# flake8.defaults.NOQA_INLINE_REGEXP / NOQA_FILE
NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa", re.I)


class NoqaMap:
    def __init__(self, text: str) -> None:
        self.lines: List[str] = text.splitlines(True)
        self.file_ignored = any(NOQA_FILE.match(line) for line in self.lines)
        self._mapping: Optional[Dict[int, str]] = None

    def _build(self) -> Dict[int, str]:
        # flake8's FileProcessor._noqa_line_mapping: a token run up to each NEWLINE/NL shares its text
        ret: Dict[int, str] = {}
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO("".join(self.lines)).readline))
        except (tokenize.TokenError, SyntaxError, ValueError):
            return ret
        min_line = len(self.lines) + 2
        max_line = -1
        for tok in tokens:
            tp, (s_line, _), (e_line, _) = tok.type, tok.start, tok.end
            if tp in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            min_line = min(min_line, s_line)
            max_line = max(max_line, e_line)
            if tp in (tokenize.NL, tokenize.NEWLINE):
                joined = "".join(self.lines[min_line - 1 : max_line])
                for n in range(min_line, max_line + 1):
                    ret[n] = joined
                min_line = len(self.lines) + 2
                max_line = -1
        return ret

    def line_text(self, line: int) -> str:
        if self._mapping is None:
            self._mapping = self._build()
        text = self._mapping.get(line)
        if text is None:
            text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return text

    def suppresses(self, line: int, code: str) -> bool:
        match = NOQA_INLINE.search(self.line_text(line))
        if match is None:
            return False
        codes_str = match.group("codes")
        if codes_str is None:
            return True
        codes = {c for c in re.split(r"[,\s]", codes_str) if c.strip()}
        return code in codes or code.startswith(tuple(codes))
