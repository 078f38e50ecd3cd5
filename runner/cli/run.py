"""`runner run`, `runner status`, `runner cancel`: placeholder until the engine lands (issue 4)."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []
