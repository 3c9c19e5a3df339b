"""The ``revfield`` command line."""

import gc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typer import Typer

    app: Typer

__all__ = ["app", "console", "main"]


def main() -> None:
    """Run the ``revfield`` command line in this process; Ctrl-C stops it with exit code 130,
    keeping every committed batch. The cyclic garbage collector is off while the command
    starts (see :func:`revfield.cli._app.run`) and as it was when this returns."""
    _main(own_process=False)


def console() -> None:
    """The ``revfield`` console script and ``python -m revfield.cli``: :func:`main` in a
    process of its own, which ends with the command (what it holds is frozen at the end, not
    walked by the garbage collector once more on the way out)."""
    _main(own_process=True)


def _main(*, own_process: bool) -> None:
    collected = gc.isenabled()
    gc.disable()  # importing the commands allocates what lives as long as the process
    try:
        from revfield.cli._commands import run
    except BaseException:
        if collected:
            gc.enable()
        raise
    run(own_process=own_process, collected=collected)


def __getattr__(name: str) -> Any:
    if name == "app":  # the Typer app, with every command registered
        from revfield.cli._commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
