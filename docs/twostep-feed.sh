#!/bin/sh
# twostep-feed: copies Twostep's event feed (GET /v1/events) into a JSON
# Lines file, oldest first, one event per line, and keeps its place in a
# cursor file, so that a log shipper (Vector, Fluent Bit, Filebeat…) can
# tail the file into a SIEM. Run it as a service; ONCE=1 stops when it
# has caught up (for a timer, or a test).
#
#   TWOSTEP_URL=https://2fa.example.com TWOSTEP_KEY=… OUT=/var/lib/twostep-feed/events.jsonl sh twostep-feed.sh
#
# Delivery is at least once: after a crash between appending a page and
# saving the cursor, the page is appended again. Deduplicate by "id".
set -eu
: "${TWOSTEP_URL:?set TWOSTEP_URL to Twostep's base URL}"
: "${TWOSTEP_KEY:?set TWOSTEP_KEY to an API key (an operator key sees every company)}"
out=${OUT:-events.jsonl}
state=${STATE:-$out.cursor}
poll=${POLL:-5}
while :; do
  after=$(cat "$state" 2>/dev/null || true)
  # The key goes in on stdin, not in the command line that ps shows.
  page=$(printf 'header = "Authorization: Bearer %s"\n' "$TWOSTEP_KEY" |
    curl -fsS --max-time 30 -K - "$TWOSTEP_URL/v1/events?limit=200&after=$after")
  n=$(printf '%s' "$page" | jq '.events | length')
  if [ "$n" -gt 0 ]; then
    printf '%s' "$page" | jq -c '.events[]' >> "$out"
    printf '%s' "$page" | jq -r '.next_cursor' > "$state.tmp"
    mv "$state.tmp" "$state"
    continue # there may be more
  fi
  [ "${ONCE:-}" = 1 ] && exit 0
  sleep "$poll"
done
