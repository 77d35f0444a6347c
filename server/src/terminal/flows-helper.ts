/**
 * `flows`: Calico Whisker's flows as a readable table in the learner's shell, the way Calico's docs reach them
 * (`kubectl port-forward -n calico-system svc/whisker` + `curl` + `jq`) — the same commands work on any cluster with
 * Whisker. Installed as `~/bin/flows`; bash, kubectl and curl only, with jq for the table (without jq it says how to
 * get it and can still print the raw JSON with `--json`).
 */
export const flowsScript = String.raw`#!/usr/bin/env bash
# flows: Calico Whisker's flows as a table, through kubectl port-forward to calico-system/svc/whisker.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: flows [-n NAMESPACE] [-a allow|deny] [-p allow|deny] [-s SECONDS] [--probes] [--json]

Shows Calico Whisker's flows as a table: when, source, destination, port, action, pending action, policy.

  -n, --namespace NS    flows whose source or destination is in namespace NS
  -a, --action ACT      flows with this action (allow or deny)
  -p, --pending ACT     flows whose staged (pending) policies would give this action (allow or deny)
  -s, --since SECONDS   flows from the last SECONDS seconds (default 300)
      --probes          also show the flows of the workshop's grader probes (hidden by default: their source
                        is a pod named egresslab-probe-…, labelled egresslab.io/probe=true)
      --json            print Whisker's JSON (as it comes when jq is missing; without probe flows otherwise)
  -h, --help            this help

It runs what you could type yourself:
  kubectl port-forward -n calico-system svc/whisker 8081:8081 &
  curl -s 'http://127.0.0.1:8081/whisker-backend/flows?startTimeGte=-300' | jq .
USAGE
}

ns="" action="" pending="" since=300 json=0 probes=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--namespace) [ $# -ge 2 ] || { usage >&2; exit 2; }; ns="$2"; shift 2 ;;
    -a|--action) [ $# -ge 2 ] || { usage >&2; exit 2; }; action="$2"; shift 2 ;;
    -p|--pending) [ $# -ge 2 ] || { usage >&2; exit 2; }; pending="$2"; shift 2 ;;
    -s|--since) [ $# -ge 2 ] || { usage >&2; exit 2; }; since="$2"; shift 2 ;;
    --json) json=1; shift ;;
    --probes) probes=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "flows: unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

case "$since" in ''|*[!0-9]*) echo "flows: --since takes a number of seconds, not '$since'" >&2; exit 2 ;; esac
cap() { case "$1" in allow|Allow) echo Allow ;; deny|Deny) echo Deny ;; '') echo "" ;; *) return 1 ;; esac; }
action=$(cap "$action") || { echo "flows: --action is allow or deny" >&2; exit 2; }
pending=$(cap "$pending") || { echo "flows: --pending is allow or deny" >&2; exit 2; }
case "$ns" in *[!a-z0-9-]*) echo "flows: '$ns' is not a namespace name" >&2; exit 2 ;; esac

for tool in kubectl curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "flows: needs $tool, which is not installed" >&2; exit 1; }
done
if [ "$json" = 0 ] && ! command -v jq >/dev/null 2>&1; then
  echo "flows: the table needs jq, which is not installed here (Debian/Ubuntu: sudo apt-get install jq)." >&2
  echo "       'flows --json' prints Whisker's JSON without it." >&2
  exit 1
fi

# The port-forward's output, to read the local port from; /tmp may be read-only in a sandbox, HOME is not.
tmp=/tmp
[ -w "$tmp" ] || tmp=$HOME
log=$(mktemp "$tmp/.flows.XXXXXXXX")
kubectl port-forward -n calico-system svc/whisker 0:8081 >"$log" 2>&1 &
pf=$!
trap 'kill $pf 2>/dev/null || true; wait $pf 2>/dev/null || true; rm -f "$log"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$log" | head -n1)
  [ -n "$port" ] && break
  kill -0 $pf 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "flows: kubectl port-forward to calico-system/svc/whisker did not start:" >&2
  sed 's/^/  /' "$log" >&2
  exit 1
fi

query="startTimeGte=-$since"
if [ -n "$action" ]; then
  query="$query&filters=%7B%22actions%22%3A%5B%22$action%22%5D%7D"
fi
body=$(curl -sS --max-time 20 "http://127.0.0.1:$port/whisker-backend/flows?$query")

# The grader's probes run in pods of their own (egresslab.io/probe=true), so they never pass for a workload's traffic.
probe_jq='def probe: ((.source_labels // "") | split(" | ") | index("egresslab.io/probe=true")) != null
  or ((.source_name // "") | startswith("egresslab-probe-"));'

if [ "$json" = 1 ]; then
  if [ "$probes" = 1 ] || ! command -v jq >/dev/null 2>&1; then
    printf '%s\n' "$body"
  else
    printf '%s' "$body" | jq -c "$probe_jq"' if (.items | type) == "array" then .items |= map(select(probe | not)) else . end'
  fi
  exit 0
fi

printf '%s' "$body" | jq -r --arg ns "$ns" --arg pending "$pending" --argjson probes "$probes" "$probe_jq"'
  def verdict(hits): [(hits // [])[] | select(.action != "Pass") | .action] | last // "-";
  def policy(hits): [(hits // [])[] | select(.action != "Pass")] | last
    | if . == null then "-"
      elif .kind == "EndOfTier" then "end of tier \(.tier) (\(.trigger.name // "-"))"
      else "\(if (.tier // "") != "" then .tier + "/" else "" end)\(if (.namespace // "") != "" then .namespace + "/" else "" end)\(.name)" end;
  def who(n; name): if (n // "") == "" or n == "-" then name else "\(n)/\(name)" end;
  if .error then "flows: Whisker says: \(.error)" | halt_error(1) else . end
  | [.items[]
     | select($ns == "" or .source_namespace == $ns or .dest_namespace == $ns)
     | select($pending == "" or verdict(.policies.pending) == $pending)]
  | ([.[] | select(probe)] | length) as $hidden
  | map(select($probes == 1 or (probe | not)))
  | if length == 0 then "no flows (try a longer --since, or make some traffic)"
      + (if $probes == 0 and $hidden > 0 then "; \($hidden) flows of the grader'"'"'s probes hidden (--probes shows them)" else "" end)
    else
      (["TIME", "SOURCE", "DESTINATION", "PORT", "ACTION", "PENDING", "POLICY"],
       (sort_by(.end_time) | reverse | .[]
        | [(.end_time | sub("^[0-9-]+T"; "") | sub("Z$"; "")),
           ((if probe then "[probe] " else "" end) + who(.source_namespace; .source_name)),
           (who(.dest_namespace; .dest_name) + (if (.dest_domains // []) | length > 0 then " (" + (.dest_domains | join(",")) + ")" else "" end)),
           "\(.protocol)/\(.dest_port)",
           .action,
           verdict(.policies.pending),
           policy(.policies.enforced)]))
      | @tsv
    end' | if command -v column >/dev/null 2>&1; then column -t -s "$(printf '\t')"; else cat; fi
`;
