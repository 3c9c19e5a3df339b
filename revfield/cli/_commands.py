"""Every command of the command line, registered on :data:`~revfield.cli._app.app` by importing
the module that defines it."""

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
from revfield.cli._app import app, run

__all__ = ["app", "run"]
