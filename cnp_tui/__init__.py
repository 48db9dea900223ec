"""cnp: a job scheduler for the Claude Code CLI."""
