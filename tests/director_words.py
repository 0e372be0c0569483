"""What a director must never read on a page: a column name as code writes it (env_comfort,
ci_lower), a missing value printed as a word, a Markdown escape a static table's cell showed
instead of rendering. One rule for the browser test and the page tests."""

import re

RAW_NAME = re.compile(r"\b[a-z0-9]+_[a-z0-9_]+\b")
MISSING_WORD = re.compile(r"\b(None|nan|NaN|NaT)\b")
ESCAPE = re.compile(r"\\\S")


def unreadable(text: str) -> list[str]:
    """The raw names, missing-value words and escapes in `text`, each once, sorted."""
    return sorted(set(RAW_NAME.findall(text)) | set(MISSING_WORD.findall(text)) | set(ESCAPE.findall(text)))
