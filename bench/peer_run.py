"""Measure the django-webhook peer: N deliveries queued, then one worker process drains them."""

import time

from harness import BENCH_DIR, PEER_PYTHON, ensure_database, ensure_peer_venv, env_with, manage, start, stop

PEER_DIR = BENCH_DIR / "peer"


def peer_env():
    return env_with(PYTHONPATH=str(PEER_DIR), DJANGO_SETTINGS_MODULE="peerproj.settings")


def measure_peer(receiver, count):
    """Deliveries/s of django-webhook with one solo worker, first to last receipt."""
    ensure_peer_venv()
    ensure_database("le_bench_peer")
    subprocess_env = peer_env()
    manage("migrate", "-v0", env=subprocess_env, cwd=PEER_DIR, python=PEER_PYTHON)
    start_purge = start(
        [PEER_PYTHON, "-m", "celery", "-A", "peerproj", "purge", "-f"], cwd=PEER_DIR, env=subprocess_env
    )
    start_purge.wait(60)
    receiver.reset()
    manage(
        "peer_enqueue", receiver.hook_url, str(count), env=subprocess_env, cwd=PEER_DIR, python=PEER_PYTHON
    )
    worker = start(
        [PEER_PYTHON, "-m", "celery", "-A", "peerproj", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        cwd=PEER_DIR,
        env=subprocess_env,
        log=BENCH_DIR / "peer-worker.log",
    )
    try:
        stats = receiver.wait_for(count, timeout=max(120, count / 20))
    finally:
        stop(worker)
    time.sleep(0.1)
    return count / (stats["last"] - stats["first"])
