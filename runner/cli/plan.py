"""`runner plan`: placeholder until the manifest loader lands (issue 2)."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []
