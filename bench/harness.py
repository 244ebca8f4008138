"""Shared plumbing of the benchmark scripts: processes, the receiver, timing, the machine."""

import base64
import hashlib
import hmac
import json
import os
import platform
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
PYTHON = sys.executable
PEER_PYTHON = str(BENCH_DIR / ".venv-peer" / "bin" / "python")

# Production configuration on this machine; the bench uses its own database and Redis dbs.
BENCH_ENV = {
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/le_bench"),
    "CELERY_BROKER_URL": os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7"),
    "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/8"),
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "WEBHOOK_ALLOW_PRIVATE_DESTINATIONS": "1",
    "LEADENGINE_DATA_DIR": str(PROJECT_DIR / "var" / "bench"),
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
}


PEER_REQUIREMENTS = [
    "django==5.2.19",
    "celery[redis]==5.7.0",
    "requests",
    "django-model-utils",
    "psycopg[binary]==3.3.9",
]


def ensure_peer_venv():
    """Create bench/.venv-peer (django-webhook 0.0.15 and its stack) when it is missing."""
    if Path(PEER_PYTHON).exists():
        return
    venv = BENCH_DIR / ".venv-peer"
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    pip = [PEER_PYTHON, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *PEER_REQUIREMENTS], check=True)
    # --no-deps: 0.0.15 pins django<6 and pulls in extras we don't need (research §1).
    subprocess.run([*pip, "--no-deps", "django-webhook==0.0.15"], check=True)


def ensure_database(name):
    """createdb when missing (trust auth on 127.0.0.1, as on this machine)."""
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True, check=False)


def machine():
    model = platform.machine()
    try:
        for line in open("/proc/cpuinfo"):  # noqa: SIM115
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} · {os.cpu_count()} cores · Python {platform.python_version()} · {platform.platform()}"


def env_with(**extra):
    env = dict(os.environ)
    env.update(BENCH_ENV)
    env.update({key: str(value) for key, value in extra.items()})
    return env


def start(args, cwd=PROJECT_DIR, env=None, log=None):
    return subprocess.Popen(
        args,
        cwd=cwd,
        env=env or env_with(),
        stdout=open(log, "w") if log else subprocess.DEVNULL,  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process, sig=signal.SIGTERM):
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def receiver(port=8099, delay=0.0, hang=False):
    """bench/receiver.py on `port`; `delay` seconds before each answer, or `hang` (never answers)."""
    options = (["--delay", str(delay)] if delay else []) + (["--hang"] if hang else [])
    process = start([PYTHON, str(BENCH_DIR / "receiver.py"), "--port", str(port), *options])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{url}/stats", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    try:
        yield Receiver(url)
    finally:
        stop(process)


class Receiver:
    def __init__(self, url):
        self.url = url
        self.hook_url = f"{url}/hook"

    def reset(self):
        requests.post(f"{self.url}/reset", timeout=5)

    def stats(self, ids=False):
        return requests.get(f"{self.url}/stats" + ("?ids=1" if ids else ""), timeout=30).json()

    def wait_for(self, count, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["count"] >= count:
                return stats
            time.sleep(0.2)
        raise RuntimeError(f"receiver got {self.stats()['count']} of {count} within {timeout}s")


def sign(secret_bytes, msg_id, timestamp, body):
    """Standard Webhooks v1 signature (what our client sends), for the ceiling loop."""
    digest = hmac.new(secret_bytes, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def ceiling_plain_session(receiver, bodies):
    """One process posting the same signed bodies with a plain requests.Session loop."""
    receiver.reset()
    secret = os.urandom(24)
    session = requests.Session()
    started = time.perf_counter()
    for index, body in enumerate(bodies):
        msg_id = f"msg_{index}"
        timestamp = str(int(time.time()))
        session.post(
            receiver.hook_url,
            data=body,
            headers={
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": timestamp,
                "webhook-signature": sign(secret, msg_id, timestamp, body),
            },
            timeout=10,
        )
    return len(bodies) / (time.perf_counter() - started)


def _post_shard(requests_, threads):
    """One poster process: `threads` threads, a requests.Session each, posting signed bodies."""
    import queue
    import threading

    work = queue.SimpleQueue()
    for item in requests_:
        work.put(item)
    secret = os.urandom(24)

    def run():
        session = requests.Session()
        while True:
            try:
                url, msg_id, body = work.get_nowait()
            except queue.Empty:
                return
            timestamp = str(int(time.time()))
            session.post(
                url,
                data=body,
                headers={
                    "content-type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": timestamp,
                    "webhook-signature": sign(secret, msg_id, timestamp, body),
                },
                timeout=30,
            )

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def ceiling_concurrent(receiver, posts, processes, threads):
    """The raw poster: `processes` processes × `threads` threads (a Session each) posting
    `posts` [(url, webhook-id, body)] round-robin; deliveries/s from first to last receipt.
    Fresh processes (spawn) so the poster shares nothing with the caller."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    receiver.reset()
    shards = [posts[index::processes] for index in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_post_shard, shards, [threads] * processes))
    stats = receiver.wait_for(len(posts), timeout=120)
    return len(posts) / (stats["last"] - stats["first"])


def manage(*args, env=None, cwd=PROJECT_DIR, python=PYTHON):
    return subprocess.run(
        [python, "manage.py", *args],
        cwd=cwd,
        env=env or env_with(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def ratio(value, reference):
    return value / reference if reference else float("nan")


def print_json_line(**figures):
    print(json.dumps(figures, default=str))
