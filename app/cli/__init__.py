"""The command line: `citewise index|ask|shell|list|remove|export|models|doctor|watch|summarize`.

`main` parses the arguments (app/cli/main.py) and runs one command (app/cli/commands.py); what
the commands print goes through app/cli/console.py. The use cases they call live in app/."""

from app.cli.main import build_parser, main, offline_env, settings_from_args

__all__ = ["build_parser", "main", "offline_env", "settings_from_args"]
