"""make bench-turns: a citizen's turn against what Rasa itself costs, in one run.

Side by side over the REST webhook (POST /webhooks/rest/webhook):

* ours — the full stack as `make run` starts it (bot.run: our Rasa server with its
  channels, the SQL tracker store encrypted at rest, the action server), on a
  scratch SQLite database in a temporary directory;
* vanilla — a Rasa 3.6.21 bot built in this run from OUR domain's intents and
  training data (so it never goes stale): Rasa's default NLU pipeline for zh (the
  baseline of benchmarks/baseline_config.yml, DIET trained for BENCH_VANILLA_EPOCHS=3
  epochs: what a prediction costs does not depend on them), one rule per intent answering with
  a plain response, in-memory tracker store, no action server. Its model is
  cached under results/ keyed by a hash of what it is built from, so reruns do
  not retrain.

Load comes from asyncio/aiohttp clients, each one a citizen going through the
same 15 everyday FAQ turns (a new sender per round): 1 client, then 8 at once.
Then one long conversation (80 turns, the 15 repeated): p50 of turns 1–10 against
turns 71–80. Ours and vanilla run alternately (A B A B) so that the shared, noisy
machine weighs on both alike; compare the ratios, not the absolute numbers.
Last, how many action-server calls one of our 15-turn conversations cost (the action
server's call log, ACTIONS_CALL_LOG).

Environment: BENCH_ROUNDS (conversations per client, default 4 for 1 client and
2 each for 8), BENCH_CLIENTS (default 8), BENCH_REPEAT (default 2), BENCH_ONLY
(ours|vanilla), BENCH_OURS_URL (measure an already running stack, e.g. the
SCALE=2 balancer, instead of starting one), BENCH_BASELINE=<git revision> (ours at
that revision too, in the same run, alternately: before/after ratios that the
machine's load swings do not blur; a recent revision, same database schema).

BENCH_PROFILE=<name>: no comparison; our Rasa server and action server run under
pyinstrument (a dev dependency) through 1-client rounds and a long conversation,
and their sessions are saved to results/profile-<name>/ (render them with
`pyinstrument --load results/profile-<name>/rasa.pyisession`); benchmarks/PROFILE.md
says where the time goes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

WORKDIR = Path(tempfile.mkdtemp(prefix="yjs-bench-turns-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORKDIR / 'bench.db'}")
os.environ.setdefault("YJS_DATA_KEY",
                      __import__("cryptography.fernet").fernet.Fernet.generate_key().decode())
os.environ["YJS_VAR_DIR"] = str(WORKDIR)

import yaml  # noqa: E402

from benchmarks.common import free_port, percentile  # noqa: E402
from bot.config import ROOT  # noqa: E402

RESULTS = ROOT / "results"
# The same 15 everyday questions for both bots: a citizen asking about a bundle,
# its materials, where and how long, small talk.
TURNS = [
    "你好", "孩子出生要办什么", "要带什么材料", "去哪里办", "要多久",
    "要收费吗", "可以网上办吗", "谢谢", "退休要办什么", "需要什么材料",
    "在哪里办理", "开饭店要办什么手续", "你是机器人吗", "有哪些事可以办", "再见",
]
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "2"))
LONG_TURNS = 80
CALL_LOG = WORKDIR / "action-calls.jsonl"
VANILLA_EPOCHS = int(os.environ.get("BENCH_VANILLA_EPOCHS", "3"))
VANILLA_POLICIES = [{"name": "MemoizationPolicy"}, {"name": "RulePolicy"}]


# -- the vanilla bot -----------------------------------------------------------------


def _vanilla_sources() -> dict[str, str]:
    """domain.yml, data/rules.yml and config.yml of the vanilla bot, from our domain."""
    ours = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = [i if isinstance(i, str) else next(iter(i)) for i in ours["intents"]]
    entities = [e if isinstance(e, str) else next(iter(e)) for e in ours.get("entities", [])]
    domain = {
        "version": "3.1", "intents": intents, "entities": entities,
        "responses": {f"utter_{i}": [{"text": f"（{i}）好的，这是关于您问题的答复。"}]
                      for i in intents},
        "session_config": {"session_expiration_time": 60,
                           "carry_over_slots_to_new_session": True},
    }
    rules = {"version": "3.1", "rules": [
        {"rule": i, "steps": [{"intent": i}, {"action": f"utter_{i}"}]} for i in intents]}
    config = yaml.safe_load((ROOT / "benchmarks" / "baseline_config.yml").read_text(encoding="utf-8"))
    # Epochs shape DIET's accuracy, not what a prediction costs (same layers, same
    # vocabulary): few, so the baseline trains in minutes on shared cores.
    for component in config["pipeline"]:
        if component["name"] == "DIETClassifier":
            component["epochs"] = VANILLA_EPOCHS
    config["policies"] = VANILLA_POLICIES
    config["assistant_id"] = "yjs-vanilla-bench"
    dump = lambda d: yaml.safe_dump(d, allow_unicode=True, sort_keys=False)  # noqa: E731
    return {"domain.yml": dump(domain), "data/rules.yml": dump(rules), "config.yml": dump(config)}


def _nlu_files() -> list[Path]:
    from bot.model import fingerprint

    fingerprint()  # regenerates data/nlu/generated from the knowledge base
    return sorted((ROOT / "data" / "nlu").rglob("*.yml"))


def vanilla_model() -> Path:
    """The vanilla bot's model, trained once per hash of its sources and our NLU data."""
    import rasa

    sources, nlu = _vanilla_sources(), _nlu_files()
    h = hashlib.sha256(f"rasa {rasa.__version__}".encode())
    for name, text in sorted(sources.items()):
        h.update(name.encode() + text.encode())
    for path in nlu:
        h.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    out = RESULTS / f"vanilla-bot-{h.hexdigest()[:16]}"
    model = out / "vanilla.tar.gz"
    if model.exists():
        return model
    project = Path(tempfile.mkdtemp(prefix="yjs-vanilla-"))
    for name, text in sources.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    print(f"[bench] training the vanilla bot into {out} (once per data hash)…", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "rasa", "train", "--domain", "domain.yml",
                    "--data", "data/rules.yml", *map(str, nlu), "--config", "config.yml",
                    "--out", str(out), "--fixed-model-name", "vanilla"],
                   cwd=project, env=_env(), check=True)
    shutil.rmtree(project, ignore_errors=True)
    return model


def _env() -> dict[str, str]:
    from bot.model import rasa_env

    return rasa_env()


# -- servers -------------------------------------------------------------------------


@dataclass
class Servers:
    procs: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def _log():
    return open(WORKDIR / "servers.log", "ab")  # noqa: SIM115 - lives as long as the servers


def start_vanilla(model: Path, servers: Servers) -> str:
    from bot.run import wait_until_up

    port = free_port()
    project = WORKDIR / "vanilla"
    project.mkdir(exist_ok=True)
    (project / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "rasa", "run", "--model", str(model),
                             "--port", str(port), "--interface", "127.0.0.1",
                             "--credentials", "credentials.yml"],
                            cwd=project, env=_env(), stdout=_log(), stderr=_log())
    servers.procs.append(proc)
    if not wait_until_up(f"http://127.0.0.1:{port}/", 300, proc):
        raise RuntimeError(f"vanilla Rasa did not start; see {WORKDIR / 'servers.log'}")
    return f"http://127.0.0.1:{port}"


def _profiled(cmd: list[str], out: Path) -> list[str]:
    """`python -m X …` run under pyinstrument, its session saved to `out`."""
    assert cmd[1] == "-m"
    return [cmd[0], "-m", "pyinstrument", "-r", "pyinstrument.renderers.session.SessionRenderer",
            "-o", str(out), "-i", "0.0005", *cmd[1:]]


def start_ours(servers: Servers, profile: Path | None = None, tree: Path = ROOT,
               model: Path | None = None, call_log: Path | None = None) -> str:
    """Action server and Rasa server exactly as bot.run starts them (the backend plays
    no part in a REST turn)."""
    from benchmarks.common import prepare_database
    from bot.run import (
        action_server_cmd,
        action_server_env,
        rasa_server_cmd,
        wait_until_up,
        write_endpoints,
    )

    model = prepare_database() if model is None else model
    rasa_port, actions_port = free_port(), free_port()
    endpoints = write_endpoints(actions_port, WORKDIR if tree == ROOT else tree / "var")
    actions, rasa = action_server_cmd(actions_port), rasa_server_cmd(model, rasa_port, endpoints)
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        actions = _profiled(actions, profile / "actions.pyisession")
        # Rasa's server does not leave pyinstrument's command line a chance to write on
        # the way out: it profiles its own webhook requests (bot.rasa_server).
        os.environ["RASA_PROFILE"] = str(profile / "rasa.pyisession")
    env = _env()
    env["ACTIONS_CALL_LOG"] = str(call_log or CALL_LOG)  # rasa_sdk_plugins: one line per call
    for cmd, cmd_env in ((actions, action_server_env(env)), (rasa, env)):
        servers.procs.append(subprocess.Popen(cmd, cwd=tree, env=cmd_env,
                                              stdout=_log(), stderr=_log()))
    if not (wait_until_up(f"http://127.0.0.1:{actions_port}/health", 120, servers.procs[-2])
            and wait_until_up(f"http://127.0.0.1:{rasa_port}/", 300, servers.procs[-1])):
        raise RuntimeError(f"our servers did not start; see {WORKDIR / 'servers.log'}")
    return f"http://127.0.0.1:{rasa_port}"


BASELINE_CALL_LOG = WORKDIR / "baseline-calls.jsonl"


def baseline_tree(rev: str) -> tuple[Path, Path]:
    """BENCH_BASELINE=<rev>: our code at `rev` (git archive) and its model (ours copied in
    first: trained only when `rev` shapes the model differently). It shares the scratch
    database, migrated by the current code: a recent revision, same schema."""
    tree = WORKDIR / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    # the call log is counted by the plugin: the current one, whatever `rev` had
    shutil.copy(ROOT / "rasa_sdk_plugins" / "__init__.py", tree / "rasa_sdk_plugins" / "__init__.py")
    (tree / "models").mkdir(exist_ok=True)
    for trained in (ROOT / "models").glob("*.tar.gz"):
        shutil.copy(trained, tree / "models" / trained.name)
    print(f"[bench] baseline {rev} in {tree}; its model…", file=sys.stderr)
    out = subprocess.run([sys.executable, "-c", "from bot.model import ensure_model; print(ensure_model())"],
                         cwd=tree, env=_env(), check=True, capture_output=True, text=True).stdout
    return tree, Path(out.strip().splitlines()[-1])


# -- load ----------------------------------------------------------------------------


async def _turn(session, url: str, sender: str, text: str) -> float:
    start = time.perf_counter()
    async with session.post(f"{url}/webhooks/rest/webhook",
                            json={"sender": sender, "message": text}) as resp:
        body = await resp.json(content_type=None)
    took = time.perf_counter() - start
    if resp.status != 200 or not isinstance(body, list) or not body:
        raise RuntimeError(f"{url}: no answer to {text!r} ({resp.status}): {body}")
    return took


async def _client(session, url: str, rounds: int, tag: str) -> list[float]:
    seconds = []
    for _ in range(rounds):
        sender = f"bench-{tag}-{uuid.uuid4().hex[:12]}"
        for text in TURNS:
            seconds.append(await _turn(session, url, sender, text))
    return seconds


async def load(url: str, clients: int, rounds: int) -> tuple[list[float], float]:
    """`clients` concurrent citizens, each `rounds` conversations of the 15 turns."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        parts = await asyncio.gather(*(_client(session, url, rounds, f"{clients}-{n}")
                                       for n in range(clients)))
        wall = time.perf_counter() - start
    seconds = [s for part in parts for s in part]
    return seconds, len(seconds) / wall


async def long_conversation(url: str) -> list[float]:
    import aiohttp

    sender = f"bench-long-{uuid.uuid4().hex[:12]}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        return [await _turn(session, url, sender, TURNS[n % len(TURNS)])
                for n in range(LONG_TURNS)]


async def warm_up(url: str) -> None:
    await load(url, 2, 1)


# -- the table -----------------------------------------------------------------------


@dataclass
class Result:
    one: list[float] = field(default_factory=list)
    one_rate: list[float] = field(default_factory=list)
    many: list[float] = field(default_factory=list)
    many_rate: list[float] = field(default_factory=list)
    early: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)


async def measure(urls: dict[str, str]) -> dict[str, Result]:
    results = {name: Result() for name in urls}
    for url in urls.values():
        await warm_up(url)
    rounds_one = int(os.environ.get("BENCH_ROUNDS", "4"))
    rounds_many = max(1, rounds_one // 2)
    for rep in range(REPEAT):
        order = list(urls.items()) if rep % 2 == 0 else list(reversed(urls.items()))
        for name, url in order:
            r = results[name]
            xs, rate = await load(url, 1, rounds_one)
            r.one += xs
            r.one_rate.append(rate)
        for name, url in order:
            r = results[name]
            xs, rate = await load(url, CLIENTS, rounds_many)
            r.many += xs
            r.many_rate.append(rate)
        for name, url in order:
            r = results[name]
            xs = await long_conversation(url)
            r.early += xs[:10]
            r.late += xs[70:80]
    return results


def ms(xs: list[float], q: float) -> float:
    return percentile(xs, q) * 1000


def table(results: dict[str, Result]) -> str:
    o, v = results["ours"], results["vanilla"]
    rate = statistics.mean
    lines = [
        "| | ours | vanilla Rasa | ratio |",
        "|---|---|---|---|",
        f"| one client, msgs/s | {rate(o.one_rate):.1f} | {rate(v.one_rate):.1f} | "
        f"{rate(o.one_rate) / rate(v.one_rate):.2f} |",
        f"| one client, p50 / p99 ms | {ms(o.one, 50):.0f} / {ms(o.one, 99):.0f} | "
        f"{ms(v.one, 50):.0f} / {ms(v.one, 99):.0f} | p50 ×{ms(o.one, 50) / ms(v.one, 50):.1f} |",
        f"| {CLIENTS} clients, msgs/s | {rate(o.many_rate):.1f} | {rate(v.many_rate):.1f} | "
        f"{rate(o.many_rate) / rate(v.many_rate):.2f} |",
        f"| {CLIENTS} clients, p50 / p99 ms | {ms(o.many, 50):.0f} / {ms(o.many, 99):.0f} | "
        f"{ms(v.many, 50):.0f} / {ms(v.many, 99):.0f} | p99 ×{ms(o.many, 99) / ms(v.many, 99):.1f} |",
        f"| one conversation, turns 1–10 vs 71–80, p50 ms | {ms(o.early, 50):.0f} → "
        f"{ms(o.late, 50):.0f} (×{ms(o.late, 50) / ms(o.early, 50):.2f}) | {ms(v.early, 50):.0f} → "
        f"{ms(v.late, 50):.0f} (×{ms(v.late, 50) / ms(v.early, 50):.2f}) | |",
    ]
    return "\n".join(lines)


def targets(results: dict[str, Result]) -> str:
    o, v = results["ours"], results["vanilla"]
    checks = [
        ("one client msgs/s ≥ 0.5× vanilla",
         statistics.mean(o.one_rate) / statistics.mean(v.one_rate), 0.5, True),
        (f"{CLIENTS} clients msgs/s ≥ 0.5× vanilla",
         statistics.mean(o.many_rate) / statistics.mean(v.many_rate), 0.5, True),
        (f"{CLIENTS} clients p99 ≤ 2.5× vanilla", ms(o.many, 99) / ms(v.many, 99), 2.5, False),
        ("turns 71–80 p50 ≤ 1.3× turns 1–10", ms(o.late, 50) / ms(o.early, 50), 1.3, False),
    ]
    return "\n".join(f"{'ok  ' if (x >= limit if up else x <= limit) else 'MISS'} {label}: {x:.2f}"
                     for label, x, limit, up in checks)


def calls_per_conversation(log: Path = CALL_LOG) -> float | None:
    """Action-server calls of ours per 15-turn conversation (1-client rounds), from the
    action server's call log."""
    import json

    if not log.exists():
        return None
    senders: dict[str, int] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        sender = json.loads(line).get("sender") or ""
        if sender.startswith("bench-1-"):
            senders[sender] = senders.get(sender, 0) + 1
    return statistics.mean(senders.values()) if senders else None


def profile(name: str) -> int:
    import signal

    out = RESULTS / f"profile-{name}"
    servers = Servers()
    try:
        url = start_ours(servers, out)
        asyncio.run(load(url, 1, 1))  # warm-up, one request at a time (one profiler)
        xs, rate = asyncio.run(load(url, 1, int(os.environ.get("BENCH_ROUNDS", "10"))))
        long = asyncio.run(long_conversation(url))
        print(f"profiled: {len(xs)} turns, {rate:.1f} msgs/s, p50 {ms(xs, 50):.0f} ms; long "
              f"conversation {ms(long[:10], 50):.0f} → {ms(long[70:], 50):.0f} ms")
    finally:
        for p in servers.procs:  # SIGINT: pyinstrument writes its session on the way out
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        servers.stop()
    print(f"sessions in {out}: pyinstrument --load {out}/rasa.pyisession")
    return 0


def main() -> int:
    if os.environ.get("BENCH_PROFILE"):
        return profile(os.environ["BENCH_PROFILE"])
    servers = Servers()
    baseline = os.environ.get("BENCH_BASELINE")
    try:
        urls = {}
        only = os.environ.get("BENCH_ONLY")
        if only != "ours":
            urls["vanilla"] = start_vanilla(vanilla_model(), servers)
        if only != "vanilla":
            urls["ours"] = os.environ.get("BENCH_OURS_URL") or start_ours(servers)
            if baseline:
                tree, model = baseline_tree(baseline)
                urls["baseline"] = start_ours(servers, tree=tree, model=model,
                                              call_log=BASELINE_CALL_LOG)
        results = asyncio.run(measure(urls))
    finally:
        servers.stop()
    n_one = len(next(iter(results.values())).one)
    print(f"\n{n_one} turns with 1 client, {len(next(iter(results.values())).many)} with "
          f"{CLIENTS}, {REPEAT}× {LONG_TURNS}-turn conversations; ours and vanilla alternately, "
          f"same machine, same run (shared, noisy: read the ratios)\n")
    if "ours" in results and "vanilla" in results:
        print(table(results))
        print()
        print(targets(results))
        if "baseline" in results:
            print(f"\nbaseline {baseline}, same run:\n")
            print(table({"ours": results["baseline"], "vanilla": results["vanilla"]}))
    else:
        for name, r in results.items():
            print(f"{name}: 1 client {statistics.mean(r.one_rate):.1f} msgs/s p50 {ms(r.one, 50):.0f} "
                  f"p99 {ms(r.one, 99):.0f}; {CLIENTS} clients {statistics.mean(r.many_rate):.1f} "
                  f"msgs/s p50 {ms(r.many, 50):.0f} p99 {ms(r.many, 99):.0f}; long "
                  f"{ms(r.early, 50):.0f} → {ms(r.late, 50):.0f}")
    if "ours" in results and "baseline" in results:
        o, b = results["ours"], results["baseline"]
        print(f"\nours / baseline {baseline}: one client msgs/s "
              f"{statistics.mean(o.one_rate) / statistics.mean(b.one_rate):.2f}, p50 "
              f"{ms(o.one, 50) / ms(b.one, 50):.2f}; {CLIENTS} clients msgs/s "
              f"{statistics.mean(o.many_rate) / statistics.mean(b.many_rate):.2f}, p99 "
              f"{ms(o.many, 99) / ms(b.many, 99):.2f}")
    for name, log in (("ours", CALL_LOG), (f"baseline {baseline}", BASELINE_CALL_LOG)):
        calls = calls_per_conversation(log)
        if calls is not None:
            print(f"{name}: {calls:.0f} action-server calls per conversation of {len(TURNS)} "
                  f"turns ({calls / len(TURNS):.2f} a turn)")
    shutil.rmtree(WORKDIR, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
