"""`python -m bot.rasa_server [rasa run options]`: Rasa's own `rasa run`, secure by
default. `make run` starts the Rasa server through it.

It parses the options with Rasa's own parser and hands Rasa one thing more, a
`before_server_start` listener (Rasa's `server_listeners`), which installs:

* the API token: `--auth-token` is always set, from bot.config.rasa_token()
  (RASA_TOKEN, else var/rasa-token), never on the command line where `ps` shows
  it; production without RASA_TOKEN does not start;
* no wildcard CORS: `--cors '*'` is refused (no `--cors`: no cross-origin access);
* the public port carries only the channels' webhooks (/webhooks/…) and `GET /`:
  the rest of Rasa's HTTP API answers only clients in RASA_API_ALLOW (default the
  loopback addresses), and then only with the token (Rasa's own check);
* Rasa's training and model-test endpoints are off (train with `python -m bot
  model`; RASA_API_TRAINING=1 turns them on), and PUT /model loads only files from
  models/ (no model server or remote storage named by the caller);
* /model/parse vaults 身份证号 and phone numbers before the NLU sees the text, as
  the channels do (tokens that resolve to nothing);
* request bodies are capped (RASA_MAX_BODY, 1 MiB);
* the retention job (bot.retention) runs every hour;
* action servers' answers are checked against Rasa's schema with a validator built
  once, not rebuilt per call (validate_actions_once: most of a turn's CPU otherwise).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

from sanic import Sanic, response
from sanic.request import Request

from bot.config import MODELS_DIR, SecretMissing, rasa_token

logger = logging.getLogger("bot.rasa_server")

PUBLIC_PREFIXES = ("/webhooks/",)
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_API_ALLOW = "127.0.0.1/32,::1/128"
TRAINING_PATHS = ("/model/train", "/model/test/")
RETENTION_EVERY = 3600.0


def _allowed_networks() -> list[ipaddress._BaseNetwork]:
    spec = os.environ.get("RASA_API_ALLOW", DEFAULT_API_ALLOW)
    return [ipaddress.ip_network(part.strip(), strict=False)
            for part in spec.split(",") if part.strip()]


def _public(path: str) -> bool:
    return path == "/" or path.startswith(PUBLIC_PREFIXES)


def _client_allowed(ip: str, networks: list) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in net for net in networks)


def _refuse(status: int, reason: str) -> response.HTTPResponse:
    return response.json({"version": "", "status": "failure", "reason": reason,
                          "message": reason, "code": status}, status=status)


def _inside_models(path: str) -> bool:
    try:
        target = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return target.is_relative_to(MODELS_DIR.resolve()) and target.suffix == ".gz"


def guard(networks: list | None = None):
    """The request middleware described above."""
    networks = networks if networks is not None else _allowed_networks()
    training = os.environ.get("RASA_API_TRAINING", "").lower() in ("1", "true", "yes")

    async def middleware(request: Request):
        path = request.path
        if _public(path):
            return None
        if not _client_allowed(request.ip, networks):
            return _refuse(403, "Rasa's HTTP API is not served to this address")
        if not training and path.startswith(TRAINING_PATHS):
            return _refuse(403, "training through the server is off; use `python -m bot model`")
        if request.method in ("PUT", "POST"):
            # Sanic runs request middleware before it reads the body: read it now
            # (capped at REQUEST_MAX_SIZE, larger bodies are answered 413).
            await request.receive_body()
        if request.method == "PUT" and path == "/model":
            return _check_model_request(request)
        if request.method == "POST" and path == "/model/parse":
            return await _vault_parse(request)
        return None

    return middleware


def _json_body(request: Request) -> dict | None:
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _check_model_request(request: Request):
    data = _json_body(request)
    if data is None:
        return _refuse(400, "body must be a JSON object")
    if data.get("model_server") or data.get("remote_storage"):
        return _refuse(403, "models are loaded from models/ only")
    model_file = data.get("model_file")
    if not isinstance(model_file, str) or not _inside_models(model_file):
        return _refuse(403, "models are loaded from models/ only")
    return None


async def _vault_parse(request: Request):
    from bot.privacy.vault import redact

    data = _json_body(request)
    if data is None:
        return _refuse(400, "body must be a JSON object")
    text = data.get("text")
    if isinstance(text, str):
        data["text"] = redact(text)
        request.body = json.dumps(data, ensure_ascii=False).encode()
        request.parsed_json = None
    return None


def _retention_thread(app: Sanic) -> None:
    """Every hour, in a daemon thread (the job is blocking database work)."""
    from bot.retention import run_once

    def loop() -> None:
        while True:
            time.sleep(RETENTION_EVERY)
            agent = getattr(app.ctx, "agent", None)
            try:
                run_once(getattr(agent, "tracker_store", None) if agent else None)
            except Exception:  # noqa: BLE001 - try again next hour
                logger.exception("retention run failed")

    threading.Thread(target=loop, name="retention", daemon=True).start()


def validate_actions_once() -> None:
    """Rasa checks every action server's answer with `jsonschema.validate()`, which
    first checks Rasa's large event schema against the JSON-Schema meta-schema, on
    every call: ~60 ms of CPU per action, most of a turn (benchmarks/PROFILE.md). The
    same check, with the validator built once: ~2 ms. Same errors, same message."""
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)

    def _validate_action_result(self, result: dict) -> bool:
        try:
            validator.validate(result)
            return True
        except ValidationError as e:
            e.message += (". Failed to validate Action server response from API, make sure "
                          "your response from the Action endpoint is valid. For more "
                          f"information about the format visit {DOCS_BASE_URL}/custom-actions")
            raise e

    RemoteAction._validate_action_result = _validate_action_result


def _profiling(app: Sanic, path: str) -> None:
    """RASA_PROFILE=<file> (benchmarks/turns.py BENCH_PROFILE): each webhook request
    profiled with pyinstrument (a dev dependency), the sessions combined and saved to
    <file> every 10 requests. One request at a time: for a 1-client benchmark."""
    from pyinstrument import Profiler
    from pyinstrument.session import Session

    state: dict = {"session": None, "n": 0}

    async def start(request: Request):
        if request.path.startswith(PUBLIC_PREFIXES):
            request.ctx.profiler = Profiler(interval=0.0005, async_mode="enabled")
            request.ctx.profiler.start()

    async def stop(request: Request, _response):
        profiler = getattr(request.ctx, "profiler", None)
        if profiler is None:
            return
        session = profiler.stop()
        state["session"] = (session if state["session"] is None
                            else Session.combine(state["session"], session))
        state["n"] += 1
        if state["n"] % 10 == 0:
            state["session"].save(path)

    app.register_middleware(start, "request")
    app.register_middleware(stop, "response")


async def install(app: Sanic, _loop) -> None:
    """before_server_start: the guard, the retention job (the body cap is set before
    the app exists: Sanic reads SANIC_REQUEST_MAX_SIZE when it is created)."""
    if os.environ.get("RASA_PROFILE"):
        _profiling(app, os.environ["RASA_PROFILE"])
    app.register_middleware(guard(), "request")
    _retention_thread(app)


def main(argv: list[str] | None = None) -> int:
    """rasa.__main__.main() for `rasa run`, with our checks and listener."""
    import rasa.telemetry
    import rasa.utils.io
    import rasa.utils.tensorflow.environment as tf_env
    from rasa.__main__ import create_argument_parser
    from rasa.plugin import plugin_manager
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["run"]:
        argv = ["run", *argv]
    args = create_argument_parser().parse_args(argv)
    cors = args.cors if isinstance(args.cors, list) else [args.cors] if args.cors else []
    if "*" in cors:
        print("[rasa] refusing --cors '*': name the origins that may call the API",
              file=sys.stderr)
        return 2
    try:
        args.auth_token = args.auth_token or rasa_token()
    except SecretMissing as exc:
        print(f"[rasa] {exc}", file=sys.stderr)
        return 2
    args.enable_api = True
    validate_actions_once()
    args.server_listeners = [(install, "before_server_start")]
    os.environ["SANIC_REQUEST_MAX_SIZE"] = str(int(os.environ.get("RASA_MAX_BODY")
                                                   or DEFAULT_MAX_BODY))

    log_level = getattr(args, "loglevel", None)
    configure_logging_and_warnings(log_level, getattr(args, "logging_config_file", None),
                                   warn_only_once=True, filter_repeated_logs=True)
    tf_env.setup_tf_environment()
    tf_env.check_deterministic_ops()
    sys.path.insert(1, os.getcwd())
    rasa.utils.io.configure_colored_logging(log_level)
    result = plugin_manager().hook.configure_commandline(cmdline_arguments=args)
    endpoints_file = result[0] if result else None
    rasa.telemetry.initialize_telemetry()
    plugin_manager().hook.init_telemetry(endpoints_file=endpoints_file)
    plugin_manager().hook.init_managers(endpoints_file=endpoints_file)
    plugin_manager().hook.init_anonymization_pipeline(endpoints_file=endpoints_file)
    configure_structlog(log_level)
    with contextlib.suppress(KeyboardInterrupt):
        args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
