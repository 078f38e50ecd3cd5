"""Shell completion (click's): the scripts the README's setup lines source, and what they complete."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from runner.cli import main


def _complete(instruction: str, **env: str) -> Result:
    """`runner` as the installed script runs it, with _RUNNER_COMPLETE=instruction."""
    return CliRunner().invoke(main, [], prog_name="runner", env={"_RUNNER_COMPLETE": instruction, **env})


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _runner_completion runner"),
        ("zsh", "#compdef runner"),
        ("fish", "complete --no-files --command runner"),
    ],
)
def test_each_shell_gets_a_completion_script(shell: str, marker: str) -> None:
    result = _complete(f"{shell}_source")
    assert result.exit_code == 0, result.output
    assert marker in result.output


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("runner ru", "1", "plain,run"),  # a command
        ("runner run m.yaml --max-c", "3", "plain,--max-cost"),  # an option
        ("runner sim serve --profile ", "4", "plain,chaos"),  # a choice
    ],
)
def test_bash_completes_commands_options_and_choices(words: str, cword: str, expected: str) -> None:
    result = _complete("bash_complete", COMP_WORDS=words, COMP_CWORD=cword)
    assert result.exit_code == 0, result.output
    assert expected in result.output.splitlines()
