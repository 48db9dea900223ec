"""``python -m cnp_tui`` is ``cnp``."""

from cnp_tui.cli import main

main()
