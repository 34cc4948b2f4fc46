#!/usr/bin/env bash
# make demo: start the bundled IQFeed emulator, collect the demo symbols through it over TCP
# (each collected day is enriched, validated on ingest, stored, turned into the default bars
# and validated), then serve the app. The emulator keeps running while the app is served, so
# live collection and backfill work from the pages; both stop on Ctrl-C.
# The emulator's clock starts inside a trading session (the latest XNYS trading day on or
# before today, 09:45 ET; core/demo_clock.py) and runs at real speed, so the live services the
# demo starts (live collection with the DTN statistic symbols, indicators, alerts) move at any
# hour; the collected history is the complete trading days before that day.
set -eu
cd "$(dirname "$0")/.."
PORT="${1:-5006}"
BIN=.venv/bin
DATA="${TICKDECK_DATA_DIR:-$PWD/data}"
export TICKDECK_DATA_DIR="$DATA"
export TICKDECK_FEED_HOST="${TICKDECK_FEED_HOST:-127.0.0.1}"
export TICKDECK_FEED_PORT_HISTORY="${TICKDECK_FEED_PORT_HISTORY:-9100}"
export TICKDECK_FEED_PORT_L1="${TICKDECK_FEED_PORT_L1:-5009}"
# six NASDAQ- and six NYSE-listed symbols: the emulator computes the DTN breadth statistics from what
# it serves, and TRIN needs both advancers and decliners on each exchange (with SPY alone on NYSE it
# was never defined; with six a side it is undefined at about 3-5 % of instants, when all move alike)
SYMBOLS="${DEMO_SYMBOLS:-AAPL MSFT NVDA QQQ TSLA AMZN SPY IWM DIA JPM XOM KO}"
DAYS="${DEMO_DAYS:-5}"
mkdir -p "$DATA/logs"
eval "$($BIN/python -m tickdeck.core.demo_clock --days "$DAYS")"   # DEMO_NOW, DEMO_START, DEMO_END, DEMO_STATISTICS

# the server shows the market session on the emulator's clock (core/demo_clock.py market_now)
export TICKDECK_DEMO_NOW="$DEMO_NOW" TICKDECK_DEMO_SPEED=1 TICKDECK_DEMO_STARTED="$(date +%s)"
$BIN/tickdeck iqfeed-sim --symbols "$(echo $SYMBOLS | tr ' ' ',')" --seed 7 --now "$DEMO_NOW" --speed 1 \
  --port-history "$TICKDECK_FEED_PORT_HISTORY" --port-l1 "$TICKDECK_FEED_PORT_L1" \
  > "$DATA/logs/iqfeed-sim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 150); do
  if (exec 3<>"/dev/tcp/$TICKDECK_FEED_HOST/$TICKDECK_FEED_PORT_HISTORY") 2>/dev/null; then break; fi
  kill -0 $SIM 2>/dev/null || { echo "demo: the emulator failed to start:"; cat "$DATA/logs/iqfeed-sim.log"; exit 1; }
  sleep 0.2
done
echo "demo: IQFeed emulator on $TICKDECK_FEED_HOST:$TICKDECK_FEED_PORT_HISTORY (history) / :$TICKDECK_FEED_PORT_L1 (Level 1)"
echo "demo: emulated market clock starts at $DEMO_NOW ET (real speed)"
echo "demo: collecting $SYMBOLS, $DAYS trading days $DEMO_START .. $DEMO_END, into $DATA"
$BIN/tickdeck collect $SYMBOLS --start "$DEMO_START" --end "$DEMO_END"
$BIN/tickdeck indicators build --start "$DEMO_START" --end "$DEMO_END"   # breadth and derived-metrics history
$BIN/tickdeck catalog
# desired state for the serve's supervisor: live collection of the symbols and the DTN statistics
# (routed to the indicators, never stored as tick days), the indicators and the alerts
# (stdout dropped: it notes that no supervisor runs yet, which the serve below starts; errors still show)
$BIN/tickdeck service start live --symbols "$(echo $SYMBOLS | tr ' ' ','),$DEMO_STATISTICS" > /dev/null
$BIN/tickdeck service start indicators > /dev/null
$BIN/tickdeck service start alerts > /dev/null
echo "demo: live collection (with the DTN statistics), indicators and alerts start with the server"
echo "demo: serving on http://localhost:$PORT/ (Ctrl-C stops the app and the emulator)"
$BIN/tickdeck serve --port "$PORT" --address 0.0.0.0 \
  --allow-websocket-origin "localhost:$PORT" --allow-websocket-origin "127.0.0.1:$PORT"
