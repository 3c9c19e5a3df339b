"""``revfield serve``: the HTTP API (and the Agent Protocol subset) under uvicorn.

Everything a setting can break — the database, the policy pack, the model, the executor — is
checked before the port is bound, and a port that can't be had is one clear error."""

from __future__ import annotations

import errno
import socket
from datetime import timedelta
from typing import Annotated

import typer

from revfield.cli._app import app, console, fail, pack_help, state


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one ``error:`` line saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(
            f"--host `{host}`: {exc.strerror}\n  help: give an address of this machine, "
            "such as 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
        )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is taken: another program listens there\n"
                "  help: pass --port with a free port, or stop the other program"
            )
        if exc.errno == errno.EACCES:
            fail(
                f"port {port} on {host} needs privileges revfield does not have\n"
                "  help: pass --port 1024 or above (8000 is the default)"
            )
        if exc.errno == errno.EADDRNOTAVAIL:
            fail(
                f"--host `{host}` is not an address of this machine\n"
                "  help: give 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
            )
        fail(f"can't listen on {host}:{port}: {exc.strerror or exc}")
    return sock


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
) -> None:
    """Serve the HTTP API: signals in, each person's inbox and their answers, submitted
    actions, accounts, governance, /healthz, /metrics, and the Agent Protocol subset that
    LangGraph clients (Agent Inbox, the LangGraph SDK) use. The pack reloads when its files
    change; a refused reload keeps the last good pack (see /healthz). Ctrl-C stops it."""
    # FastAPI, uvicorn and the field load only for this command, not at every CLI start
    import uvicorn

    from revfield.llm import ModelError, make_model
    from revfield.outbox import load_executor
    from revfield.policies import PackError, PackWatcher
    from revfield.service import configure_logging, create_app

    st = state()
    settings = st.settings
    store = st.store()
    try:
        watcher = PackWatcher(settings.policies, clock=st.clock)
    except PackError as exc:
        fail(
            f"the policy pack at {settings.policies} was refused\n{exc}"
            + pack_help(settings.policies)
        )
    try:
        model = make_model(settings)
    except ModelError as exc:
        fail(str(exc))
    if settings.outbox_log is None:  # the log executor writes next to the database
        settings = settings.model_copy(update={"outbox_log": store.beside("outbox.jsonl")})
    try:
        executor = load_executor(settings.executor, settings)
    except ValueError as exc:
        model.close()
        fail(f"executor: {exc}")
    try:
        sock = _bind(host, port)
        bound = sock.getsockname()[1]
        api = create_app(
            store=store,
            pack=watcher,
            model=model,
            clock=st.clock,
            executor=executor,
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            ingest_batch_size=settings.ingest_batch_size,
        )
        shown = f"[{host}]" if ":" in host else host
        console.print(
            f"revfield serve: listening on http://{shown}:{bound} (database {store.url}, "
            f"pack {watcher.current().version}, executor {executor.name}); Ctrl-C stops it"
        )
        console.file.flush()
        configure_logging("info")  # JSON lines, request ids, secrets redacted (uvicorn's too)
        server = uvicorn.Server(
            uvicorn.Config(api, log_level="info", log_config=None, proxy_headers=False)
        )
        server.run(sockets=[sock])
        sock.close()
        if not server.started:  # its lifespan failed (uvicorn logged why)
            fail(
                "the service could not start (the lines above say why)\n"
                "  help: run again as `revfield --debug serve …` for the details"
            )
    finally:
        executor.close()
        model.close()
