"""The ``revfield`` command line."""

from revfield.cli import _demo, _field, _memory, _policy, _run  # noqa: F401  (register commands)
from revfield.cli._app import app, run

__all__ = ["app", "main"]


def main() -> None:
    run()
