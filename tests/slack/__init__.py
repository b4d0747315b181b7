"""End-to-end and unit tests of the Slack adapter against a local fake Slack."""
