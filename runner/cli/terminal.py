"""Text that is safe to print on a terminal: control characters shown, never obeyed.

Server messages, error codes and prompts can carry escape sequences (ESC [ ... m, OSC
hyperlinks, a bell, a carriage return that hides what came before). Everything `runner`
prints goes through `terminal_safe`, which keeps line breaks and tabs and shows every
other control character as a visible escape (`\\x1b`), so no text can recolour, rewrite
or retitle the user's terminal.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["terminal_safe", "terminal_safe_data"]

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """`text` with every control character but newline and tab shown as an escape."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def terminal_safe_data(value: Any) -> Any:
    """`value` (nested dicts, lists, strings) with every string made terminal-safe."""
    if isinstance(value, str):
        return terminal_safe(value)
    if isinstance(value, dict):
        return {terminal_safe_data(key): terminal_safe_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [terminal_safe_data(item) for item in value]
    return value
