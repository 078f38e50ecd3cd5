"""`python -m runner` runs the command line."""

from runner.cli import main

main()
