# Shared by run.sh and cpu.sh (sourced, with BIN, DATA, PORT, URL and WORK set): the
# request bodies, the server's start and its warm-up.

# The instant every segment is counted at (as the conformance cases are).
NOW=2025-06-01T04:00:00Z

# One `POST /count` body a line in $2, for each segment a line of $1.
bodies_of() {
  python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    print(json.dumps({"segment": line.rstrip("\n"), "now": sys.argv[2], "tz": "+08:00"}))
' "$1" "$NOW" > "$2"
}

# Starts the server on DATA (SERVER: its pid) and waits for its first answer.
start_server() {
  "$BIN" --data "$DATA" serve --listen "127.0.0.1:$PORT" --tick 1s 2> "$WORK/server.log" &
  SERVER=$!
  until curl -sf "$URL/health" > /dev/null; do
    kill -0 $SERVER 2> /dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.01
  done
}

# Counts each body of $1 five times: the first count of a segment builds its derived
# structures, and a lookup's index is built at its fifth use (SCANS_BEFORE_INDEX).
warm_up() {
  for _ in 1 2 3 4 5; do
    while read -r body; do
      curl -sf "$URL/count" -H 'content-type: application/json' -d "$body" > /dev/null
    done < "$1"
  done
}
