"""The `citewise` command: the desktop app where there is a screen, the CLI otherwise.

`citewise` alone opens the window (or, with no display, the question loop); `citewise gui`
insists on the window; every other command is the CLI's (app/cli/).
"""

from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from app import cli
    from ui.app import has_display

    args = cli.build_parser().parse_args(argv)
    wants_gui = args.command == "gui" or (args.command is None and not args.self_test and has_display())
    if not wants_gui:
        return cli.main(args=args)
    if not has_display(headless_ok=True):
        print("citewise: no display found (DISPLAY is not set); use `citewise shell`, or set QT_QPA_PLATFORM", file=sys.stderr)
        return 1
    cli.offline_env()
    try:
        settings = cli.settings_from_args(args)
    except Exception as exc:
        print(f"citewise: invalid settings: {exc}", file=sys.stderr)
        return 2
    from app.logs import route_to_log
    from app.session import Session
    from ui.app import run

    route_to_log(settings.data_dir, verbose=getattr(args, "verbose", False))
    session = Session.open(settings)
    try:
        return run(session, smoke=getattr(args, "smoke", False))
    finally:
        session.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
