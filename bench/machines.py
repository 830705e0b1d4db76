"""Several machines benchmark: what NATS adds to a turn, and 20 sessions on two workers.

Run: ``python -m bench.machines`` (``--prompts N``, ``--sessions N``, ``--model-seconds S``).

Everything is real but the network edges: a real ``nats-server`` on 127.0.0.1
(JetStream on), two ``voice-agent worker`` processes, the hub in this process
(the python-telegram-bot Application against the fake Bot API), every Claude
Code CLI against the scripted model.

* Update → model request, through a worker and on the hub's own machine, in one
  run: from an update becoming available to the bot to the Messages API request
  carrying the prompt reaching the model, prompts alternating "on alpha: …"
  (a session on worker alpha) and "on hub-box: …" (the hub's own machine). The
  difference is what the hub → NATS → worker → CLI path adds (goal: ≤5 ms median).
* Concurrency: ``--sessions`` sessions (default 20) spread over the two workers,
  each answering in about ``--model-seconds``; every session's turn is timed
  alone, then all at once, through the hub's session manager (the interface the
  bot uses). Goal: no turn slower than alone by more than 20%. Each Claude Code
  CLI spends some CPU on every prompt, so on a small machine (all processes here
  share its cores) the turns started together also wait for the CPUs.
* The baseline: as many sessions on the hub's own machine (no NATS, no worker:
  the CLIs run under the hub), timed the same way in the same run, first. The
  slowdown there is what that many CLIs at once cost on this machine; the
  difference between the two slowdowns is what the machines layer adds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import psutil

from bench.bot import polling_bot
from bench.common import ms, percentile
from tests.e2e.console import user_env
from tests.e2e.machines_world import Proc
from tests.fakes.anthropic import FakeAnthropic, MessagesRequest, Reply
from tests.fakes.cli_env import cli_env
from tests.fakes.nats_server import NatsServer
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from voice_agent.agent.events import TurnResult
from voice_agent.agent.options import AgentSettings
from voice_agent.config import load_settings
from voice_agent.telegram.services import Services

OWNER = 1001
BENCH_CHAT = 2
WORKERS = ("alpha", "beta")
LOCAL = "on the hub's own machine (no NATS)"
REMOTE = "over two workers"


async def _online(svc: Services) -> None:
    """Wait until both workers answer a ping (they start in their own time)."""
    hub = svc.machines
    assert hub is not None
    for _ in range(600):
        remote = hub.remote
        beats = [await remote.ping(n) for n in WORKERS] if remote is not None else ["no NATS"]
        if not any(isinstance(b, str) for b in beats):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the workers did not come online")


def _worker(tmp: Path, fake: FakeAnthropic, server: NatsServer, name: str, live: int) -> Proc:
    home = tmp / name
    (home / "work").mkdir(parents=True, exist_ok=True)
    env = {
        **user_env(home),
        **cli_env(fake.base_url, home / "cli-home"),
        **server.env(name),
        "MACHINE_NAME": name,
        "DEFAULT_CWD": str(home / "work"),
        "MAX_LIVE_CLIENTS": str(live),
        "LOG_LEVEL": "WARNING",
        "HEARTBEAT_INTERVAL": "1",
        "HEARTBEAT_TIMEOUT": "10",
    }
    (home / "cli-home").mkdir(exist_ok=True)
    return Proc(name, ["worker"], env, home)


@asynccontextmanager
async def _world(
    tmp: Path, fake: FakeAnthropic, live: int
) -> AsyncIterator[tuple[FakeTelegram, Services]]:
    """The NATS server, two workers, and the hub (in this process) on the fake Bot API."""
    async with AsyncExitStack() as stack:
        server = stack.enter_context(NatsServer(tmp / "nats", list(WORKERS)))
        tg = await stack.enter_async_context(FakeTelegram(token=DEFAULT_TOKEN))
        tg.private_chat(OWNER, "Ada")
        workers = [_worker(tmp, fake, server, name, live) for name in WORKERS]
        for worker in workers:
            await worker.start()
            stack.push_async_callback(worker.stop)
        home, work = tmp / "hub" / "home", tmp / "hub" / "work"
        home.mkdir(parents=True)
        work.mkdir(parents=True)
        settings = load_settings(
            telegram_bot_token=DEFAULT_TOKEN,
            telegram_api_base_url=tg.base_url,
            telegram_api_file_url=tg.base_file_url,
            allowed_user_ids=frozenset({OWNER}),
            default_cwd=work,
            voice_agent_data_dir=tmp / "hub" / "data",
            stream_mode="edit",
            nats_url=server.url,
            nats_user="hub",
            nats_password=server.hub_password,
            machine_name="hub-box",
            max_live_clients=live,
            heartbeat_interval=1,
            heartbeat_timeout=10,
        )
        agent = AgentSettings(  # the hub's own pool holds all its sessions' CLIs too
            env=cli_env(fake.base_url, home),
            setting_sources=(),
            idle_timeout=None,
            max_live_clients=live,
        )
        async with polling_bot(settings, agent) as svc:
            await _online(svc)
            yield tg, svc


async def _prompt(tg: FakeTelegram, fake: FakeAnthropic, text: str, done: str) -> float:
    """Send ``text``; wait for the answer; return available → model request (s)."""
    seen = len(fake.main_requests)
    after = max((m.message_id for m in tg.messages(OWNER)), default=0)
    sent = time.monotonic()
    tg.send_text(OWNER, None, text)
    await tg.wait_for_message(
        OWNER,
        lambda m: m.from_bot and m.message_id > after and done in m.content and "·" in m.content,
        120,
    )
    return fake.main_requests[seen].received_at - sent


async def update_to_model(tmp: Path, prompts: int) -> tuple[list[float], list[float]]:
    """(through worker alpha, on the hub's own machine) update → model request times."""
    remote: list[float] = []
    local: list[float] = []
    with FakeAnthropic(lambda request: Reply.text("ok")) as fake:
        async with _world(tmp, fake, 4) as (tg, _):
            await _prompt(tg, fake, "on alpha: warm up", "ok")
            await _prompt(tg, fake, "on hub-box: warm up", "ok")
            for index in range(prompts):
                remote.append(await _prompt(tg, fake, f"on alpha: prompt {index}", "ok"))
                local.append(await _prompt(tg, fake, f"on hub-box: prompt {index}", "ok"))
    return remote, local


async def _turn(svc: Services, name: str, prompt: str) -> float:
    start = time.monotonic()
    result = None
    async for event in svc.manager.stream(BENCH_CHAT, prompt, name=name):
        if isinstance(event, TurnResult):
            result = event
    if result is None or result.is_error:
        raise RuntimeError(f"the turn of {name} failed: {result}")
    return time.monotonic() - start


CPU: dict[str, dict[str, float]] = {}
"""CPU seconds spent during the turns started together, by round and kind of process."""


def _cpu() -> dict[str, float]:
    """CPU seconds so far: this process (the hub, the fake model), the workers, their CLIs."""
    spent = {"hub + fake model": sum(psutil.Process().cpu_times()[:2])}
    workers = [p for p in psutil.Process().children() if "worker" in " ".join(p.cmdline())]
    spent["workers"] = sum(sum(w.cpu_times()[:2]) for w in workers)
    ours = [p for p in psutil.Process().children() if p not in workers]  # the hub's own CLIs
    clis = [c for w in workers for c in w.children(recursive=True)]
    clis += [c for p in ours for c in [p, *p.children(recursive=True)]]
    spent["Claude Code CLIs"] = sum(sum(_times(c)) for c in clis)
    return spent


def _times(process: psutil.Process) -> tuple[float, float]:
    try:
        user, system = process.cpu_times()[:2]
    except psutil.NoSuchProcess:  # ended meanwhile
        return 0.0, 0.0
    return user, system


async def _rounds(svc: Services, where: str, names: list[str]) -> tuple[list[float], list[float]]:
    """Each session's turn alone, one after the other; then all at once."""
    for name in names:
        await _turn(svc, name, "warm up")  # starts its Claude Code process
    alone = [await _turn(svc, name, "alone") for name in names]
    together: list[Awaitable[float]] = [_turn(svc, name, "together") for name in names]
    before = _cpu()
    at_once = list(await asyncio.gather(*together))
    CPU[where] = {kind: spent - before.get(kind, 0.0) for kind, spent in _cpu().items()}
    return alone, at_once


async def concurrency(
    tmp: Path, sessions: int, model_seconds: float
) -> dict[str, tuple[list[float], list[float]]]:
    """(alone, all at once) turn times of the sessions spread over the two workers."""
    chunks = 10

    def answer(request: MessagesRequest) -> Reply:
        text = " ".join(f"w{i}" for i in range(chunks * 3)) + " done"
        return Reply.text(
            text, chunk_size=len(text) // chunks + 1, chunk_delay=model_seconds / chunks
        )

    with FakeAnthropic(answer) as fake:
        async with _world(tmp, fake, sessions + 1) as (_, svc):
            hub = svc.machines
            assert hub is not None
            results: dict[str, tuple[list[float], list[float]]] = {}
            here = [f"h{i}" for i in range(sessions)]  # the baseline: no NATS, no worker
            for name in here:
                svc.manager.get_or_create(BENCH_CHAT, cwd=str(svc.settings.default_cwd), name=name)
            results[LOCAL] = await _rounds(svc, LOCAL, here)
            for name in here:  # their CLIs end before the workers' start
                await svc.manager.close_session_async(BENCH_CHAT, name)
            remote = [f"s{i}" for i in range(sessions)]
            for index, name in enumerate(remote):
                machine = WORKERS[index % len(WORKERS)]
                state = hub.find(machine)
                assert state is not None
                session = svc.manager.get_or_create(BENCH_CHAT, cwd=state.cwd, name=name)
                hub.placement.bind(session, machine)
            results[REMOTE] = await _rounds(svc, REMOTE, remote)
            return results


async def run(prompts: int, sessions: int, model_seconds: float) -> None:
    """Measure and print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        remote, local = await update_to_model(root / "a", prompts)
        results = await concurrency(root / "b", sessions, model_seconds)
    print("update -> model request, one run, prompts alternating:")
    for name, samples in (("through worker", remote), ("hub's own machine", local)):
        print(
            f"  {name:18} median {ms(statistics.median(samples))}  "
            f"p95 {ms(percentile(samples, 0.95))}  (n={len(samples)})"
        )
    added = [r - loc for r, loc in zip(remote, local, strict=True)]
    median, p95 = ms(statistics.median(added)), ms(percentile(added, 0.95))
    print(f"  NATS + worker add: median {median}  p95 {p95}  (goal: median ≤5 ms)")
    slowdowns: dict[str, tuple[float, float]] = {}
    for where, (alone, at_once) in results.items():
        ratios = [t / a for t, a in zip(at_once, alone, strict=True)]
        median_slow, worst = statistics.median(ratios) - 1, max(ratios) - 1
        slowdowns[where] = (median_slow, worst)
        print(f"{sessions} sessions, {where}, model ~{model_seconds:.1f} s a turn:")
        print(f"  alone:     median {ms(statistics.median(alone))}  max {ms(max(alone))}")
        print(f"  at once:   median {ms(statistics.median(at_once))}  max {ms(max(at_once))}")
        print(
            f"  slowdown:  median {100 * median_slow:+.1f}%  "
            f"worst {100 * worst:+.1f}%  (goal: no turn over +20%)"
        )
        spent = ", ".join(f"{kind} {seconds:.2f} s" for kind, seconds in CPU[where].items())
        print(f"  CPU while they ran together ({psutil.cpu_count()} cores): {spent}")
    if LOCAL in slowdowns and REMOTE in slowdowns:
        (local_median, local_worst), (remote_median, remote_worst) = (
            slowdowns[LOCAL],
            slowdowns[REMOTE],
        )
        print(
            f"the machines layer adds: median {100 * (remote_median - local_median):+.1f} "
            f"points, worst {100 * (remote_worst - local_worst):+.1f} points of slowdown "
            f"over {sessions} local sessions"
        )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--model-seconds", type=float, default=2.0)
    args = parser.parse_args()
    asyncio.run(run(args.prompts, args.sessions, args.model_seconds))


if __name__ == "__main__":
    main()
