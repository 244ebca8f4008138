#!/bin/sh
# Side by side: the worker-path changes of the bench branch, one at a time, on this machine.
# Restores the working tree afterwards. Usage: sh bench/ab_worker_changes.sh [n]
set -e
cd "$(dirname "$0")/.."
N=${1:-2000}
FILES="webhooks/outbound/services.py webhooks/outbound/tasks.py config/celery.py config/settings.py"
BASE=2bb1950   # before this branch
FILL=fa6e4f7   # connection reuse + fill-before (two SELECTs)
run() {
  echo "## $1"
  (cd bench && ../.venv/bin/python ab_probe.py "$N")
}
trap 'git checkout HEAD -- $FILES' EXIT
git show $BASE:webhooks/outbound/services.py > webhooks/outbound/services.py
git show $BASE:webhooks/outbound/tasks.py > webhooks/outbound/tasks.py
git show $BASE:config/celery.py > config/celery.py
git show $BASE:config/settings.py > config/settings.py
run "A. before (a new DB connection per task, one doorbell = its own ids only)"
git checkout HEAD -- config/celery.py config/settings.py
run "B. + DB connection reused across tasks"
git show $FILL:webhooks/outbound/services.py > webhooks/outbound/services.py
git show $FILL:webhooks/outbound/tasks.py > webhooks/outbound/tasks.py
run "C. + doorbell fills its batch with due deliveries (claimed before its own send)"
git checkout HEAD -- $FILES
run "D. + one-UPDATE claim, own ids sent first, fill after (HEAD)"
