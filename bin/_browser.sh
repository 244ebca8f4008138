# Sourced by bin/test: the end-to-end tests need a Chromium. Use the system's; else install
# Debian's package when we can (root with apt, as on CI), else Playwright's own build.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing chromium for the end-to-end tests…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
  elif [ ! -f .venv/.playwright-chromium ]; then
    echo "Installing Playwright's Chromium for the end-to-end tests…"
    python -m playwright install chromium && touch .venv/.playwright-chromium
  fi
fi
