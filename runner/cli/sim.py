"""`runner sim`: placeholder until the simulator lands (issue 3)."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []
