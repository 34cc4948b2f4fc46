#!/usr/bin/env bash
# make demo: build demo data into $TICKDECK_DATA_DIR and serve the app.
set -eu
cd "$(dirname "$0")/.."
PORT="${1:-5006}"
BIN=.venv/bin
DATA="${TICKDECK_DATA_DIR:-$PWD/data}"
mkdir -p "$DATA/logs"
SYMBOLS="AAPL MSFT SPY NVDA QQQ"
END=$($BIN/python -c "from core.calendar import get_calendar; print(get_calendar().last_completed_trading_day())")
START=$($BIN/python -c "from core.calendar import get_calendar; print(get_calendar().previous_trading_days('$END', 5)[0])")
echo "demo: generating $SYMBOLS for $START..$END into $DATA"
$BIN/tickdeck generate $SYMBOLS --start "$START" --end "$END" --seed 7
$BIN/tickdeck catalog
echo "demo: serving on http://localhost:$PORT/ (Ctrl-C to stop)"
exec $BIN/tickdeck serve --port "$PORT" --address 0.0.0.0 \
  --allow-websocket-origin "localhost:$PORT" --allow-websocket-origin "127.0.0.1:$PORT"
