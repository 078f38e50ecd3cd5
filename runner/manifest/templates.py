"""Prompt templates and readable ids: `{var}` placeholders, `{{` escapes, slugs.

Templates use Python's format-string syntax (parsed with `string.Formatter`) but
only plain names are looked up, in a flat mapping: `{style}`, `{seed}`, `{meta.mood}`.
An unknown name is reported by the caller, never rendered as empty.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

__all__ = ["ID_PATTERN", "TemplateError", "is_safe_id", "placeholders", "render", "slugify"]

ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SLUG_WORD: Final = re.compile(r"[a-z0-9]+")
_FORMATTER: Final = string.Formatter()


class TemplateError(ValueError):
    """A template's syntax is broken (unbalanced braces, a format spec that cannot apply)."""


@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    try:
        return tuple(_FORMATTER.parse(text))
    except ValueError as exc:
        msg = f"the template is not valid ({exc}); write a literal brace as {{{{ or }}}}"
        raise TemplateError(msg) from None


def placeholders(text: str) -> tuple[str, ...]:
    """The placeholder names in `text`, in order of first use (empty when there are none)."""
    if "{" not in text and "}" not in text:
        return ()
    names: dict[str, None] = {}
    for _, name, _, _ in _parse(text):
        if name is not None:
            if name == "" or name.isdigit():
                msg = "a placeholder must have a name, like {style}; write a literal brace as {{ or }}"
                raise TemplateError(msg)
            names[name] = None
    return tuple(names)


def render(text: str, values: Mapping[str, object]) -> str:
    """`text` with each placeholder replaced; KeyError names a placeholder missing from `values`."""
    if "{" not in text and "}" not in text:
        return text
    out: list[str] = []
    for literal, name, spec, conversion in _parse(text):
        out.append(literal)
        if name is None:
            continue
        value = values[name]
        if conversion:
            value = _FORMATTER.convert_field(value, conversion)
        try:
            out.append(format(value, spec or ""))
        except ValueError as exc:
            msg = f"placeholder {{{name}:{spec}}} cannot format {value!r}: {exc}"
            raise TemplateError(msg) from None
    return "".join(out)


def slugify(text: str, max_len: int = 40) -> str:
    """Lowercase ASCII words joined by hyphens, at most `max_len` characters, cut at a word end."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = "-".join(_SLUG_WORD.findall(ascii_text.lower()))
    if len(slug) <= max_len:
        return slug
    cut = slug[: max_len + 1]
    head, _, _ = cut.rpartition("-")
    return (head if len(head) >= max_len // 2 else slug[:max_len]).strip("-")


def is_safe_id(value: str) -> bool:
    """True when `value` can be used as a task id and a file name."""
    return ID_PATTERN.match(value) is not None and ".." not in value
