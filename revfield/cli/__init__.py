"""The ``revfield`` command line."""

from revfield.cli import (  # noqa: F401  (each module registers its commands)
    _check,
    _demo,
    _eval,
    _field,
    _memory,
    _policy,
    _risk,
    _run,
    _serve,
    _users,
    _worker,
)
from revfield.cli._app import app
from revfield.cli._app import run as _run_app

__all__ = ["app", "main"]


def main() -> None:
    """Run the ``revfield`` command line (the console script); Ctrl-C stops it with exit code
    130, keeping every committed batch."""
    _run_app()
