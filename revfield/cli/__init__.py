"""The ``revfield`` command line."""

import gc as _gc
import typing as _typing

if _typing.TYPE_CHECKING:
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
    collected = _gc.isenabled()
    _gc.disable()  # importing the commands allocates what lives as long as the process
    try:
        from revfield.cli._commands import run
    except BaseException:
        if collected:
            _gc.enable()
        raise
    run(own_process=own_process, collected=collected)


if not _typing.TYPE_CHECKING:  # the app (every command registered) on first use
    from revfield._lazy import lazy_names as _lazy_names

    __getattr__, __dir__ = _lazy_names(__name__, {"app": "revfield.cli._commands"}, __all__)
