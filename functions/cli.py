"""`voting function <vote|results|storage> --version V [--host H] [--port P]`.

Runs one function as an HTTP server until SIGTERM/SIGINT, then shuts down gracefully
(in-flight requests finish, pools close). Logs are JSON lines on stderr; a bad setting
exits 2 with a one-line message, never a trace. Only argparse is imported at module
level: the local mesh starts about eleven of these processes on two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from functions.names import FUNCTIONS

EXIT_CONFIG = 2
EXIT_FAILED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `function` subcommand to the `voting` command."""
    parser = subparsers.add_parser(
        "function",
        help="run one function (vote, results or storage) as an HTTP server",
        description="Run one function of the voting app as an HTTP server.",
    )
    parser.add_argument("name", choices=FUNCTIONS, help="which function to run")
    parser.add_argument(
        "--version", default=None, help="function version (default: $FUNCTION_VERSION)"
    )
    parser.add_argument(
        "--host", default=None, help="address to listen on (default: $HOST or 0.0.0.0)"
    )
    parser.add_argument("--port", default=None, help="port to listen on (default: $PORT or 8080)")
    parser.set_defaults(func=run)


def main(argv: list[str]) -> int:
    """`voting function NAME ...` given `NAME ...`, without building every other area's
    subcommand: the local mesh's forked functions start here (mesh/local/function_host.py)."""
    parser = argparse.ArgumentParser(prog="voting")
    register(parser.add_subparsers())
    return run(parser.parse_args(["function", *argv]))


def run(args: argparse.Namespace) -> int:
    """Build the function from the environment and serve it; returns the exit code."""
    from functions.runtime.errors import ConfigError

    env = os.environ
    try:
        host = args.host or env.get("HOST") or "0.0.0.0"
        port = _port(args.port or env.get("PORT") or "8080")
        settings, factory = _load(args.name, env, args.version)
    except ConfigError as exc:
        print(f"voting function {args.name}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return _serve(args.name, settings, factory, host, port)


def _serve(name: str, settings: Any, factory: Any, host: str, port: int) -> int:
    """Run the app until a signal; failures are logged as one JSON line, not a trace."""
    import logging

    from aiohttp import web

    from functions.runtime.logs import configure_logging

    version = settings.function_version
    configure_logging(name, version, os.environ.get("LOG_LEVEL", "INFO"))
    log = logging.getLogger("functions.cli")

    def listening(_: str) -> None:
        log.info("listening on %s:%d", host, port, extra={"host": host, "port": port})

    try:
        web.run_app(
            factory(settings),
            loop=_event_loop(),
            host=host,
            port=port,
            print=listening,
            access_log=None,
            shutdown_timeout=5.0,
            handle_signals=True,
        )
    except Exception as exc:
        log.error("%s %s stopped: %s: %s", name, version, type(exc).__name__, exc)
        return EXIT_FAILED
    log.info("stopped")
    return 0


def _event_loop() -> Any:
    """uvloop's event loop when installed (about twice asyncio's throughput), else asyncio's."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _load(name: str, env: Any, version: str | None) -> tuple[Any, Any]:
    """Settings and app factory of one function, importing only that function."""
    if name == "vote":
        from functions.vote.app import create_app
        from functions.vote.settings import VoteSettings

        return VoteSettings.from_env(env, version), create_app
    if name == "results":
        from functions.results.app import create_app
        from functions.results.settings import ResultsSettings

        return ResultsSettings.from_env(env, version), create_app
    from functions.storage.app import create_app
    from functions.storage.settings import StorageSettings

    return StorageSettings.from_env(env, version), create_app


def _port(raw: str) -> int:
    from functions.runtime.errors import ConfigError

    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"port must be a number, not {raw!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"port out of range: {port}")
    return port
