"""The terminal: the embedded default, same graph, ledger and policies as Slack and Teams."""

from adapters.console.transport import ConsoleAdapter, run_console

__all__ = ["ConsoleAdapter", "run_console"]
