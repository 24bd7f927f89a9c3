#!/usr/bin/env bash
# Quick start: install what is needed, then run the product: the sidecar and the Streamlit
# dashboard (http://localhost:8501). Ctrl-C stops everything.
#
# With no DATABASE_URL (the embedded default: SQLite under ./data, in-process cache) it also
# loads 120 days of demo history and runs the traffic simulator (the same traffic model), so the
# numbers move at once; the sidecar's per-request log is off then (METRICS_ACCESS_LOG=0, unless
# set), or the simulator's requests would scroll the console. With a DATABASE_URL it runs the
# sidecar alone and writes nothing made-up. The URLs are printed last, once everything runs.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh requirements.txt
py=.venv/bin/python

read -r embedded sidecar_url api_url ws_url zone < <($py - <<'PY'
import os
from dotenv import dotenv_values
from metrics_client.settings import ClientSettings
from server.settings import Settings
s = Settings.from_env()
sidecar = f"http://{s.host}:{s.port}"
# The dashboard follows the sidecar's HOST and PORT unless METRICS_API_URL / METRICS_WS_URL say otherwise.
def configured(name):
    return name in os.environ or name in dotenv_values(".env")
client = ClientSettings.from_env()
api = client.api_url if configured("METRICS_API_URL") else sidecar
ws = client.ws_url if configured("METRICS_WS_URL") else sidecar.replace("http", "ws", 1) + "/ws/metrics"
print(int(s.embedded), sidecar, api, ws, s.timezone)
PY
)
export METRICS_API_URL="$api_url" METRICS_WS_URL="$ws_url"

pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
}
trap stop INT TERM EXIT

if $py -c "import httpx; httpx.get('$sidecar_url/health', timeout=1)" 2>/dev/null; then
  echo "something already answers at $sidecar_url: stop it, or set PORT" >&2
  exit 1
fi

if [ "$embedded" = 1 ]; then
  $py -m tools.demo
  export METRICS_ACCESS_LOG="${METRICS_ACCESS_LOG:-0}"
fi

$py -m server &
pids+=($!)

for _ in $(seq 1 100); do
  if $py -c "import httpx, sys; sys.exit(httpx.get('$sidecar_url/health', timeout=1).status_code != 200)" 2>/dev/null; then
    break
  fi
  kill -0 "${pids[0]}" 2>/dev/null || { echo "the sidecar failed to start" >&2; exit 1; }
  sleep 0.3
done

if [ "$embedded" = 1 ]; then
  # A summary every 10 minutes, not 10 seconds: the console's last lines stay the URLs.
  $py -m tools.simulate --url "$sidecar_url" --timezone "$zone" --report-every 600 &
  pids+=($!)
fi

dashboard_url="http://localhost:${STREAMLIT_SERVER_PORT:-8501}"
.venv/bin/streamlit run app.py &
pids+=($!)
for _ in $(seq 1 100); do
  if $py -c "import httpx, sys; sys.exit(httpx.get('$dashboard_url/_stcore/health', timeout=1).status_code != 200)" 2>/dev/null; then
    break
  fi
  sleep 0.3
done

# Last, so that they are what the console shows once everything runs.
echo "sidecar:   $sidecar_url  (REST: $sidecar_url/api/v1/analytics/realtime-metrics, WebSocket: ${sidecar_url/http/ws}/ws/metrics)" >&2
echo "dashboard: $dashboard_url" >&2

# Run until one of them stops (or Ctrl-C); then stop the rest.
wait -n "${pids[@]}"
