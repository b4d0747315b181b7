"""The terminal: the embedded default, same graph, ledger and policies as Slack and Teams."""

from adapters.console.transport import ConsoleAdapter, Ended, run_console

__all__ = ["ConsoleAdapter", "Ended", "run_console"]
