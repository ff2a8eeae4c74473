#!/usr/bin/env bash
# Conformance: run the shipped mappings on the real exports they are modelled on.
#
# For every real file a shipped mapping claims to read (OpenBoxes, Snipe-IT, Atlas CMMS), write a
# throw-away job that points the shipped mapping at the real file, run it into a scratch target
# and ledger, and check that
#   - `opsync run` exits 0 (the scratch job allows any share of rejects: the point is to load
#     what is good and explain what is not, not to judge the sample data);
#   - every reject reason names a field, a rule and a message, and a value unless the reason is
#     record-level (field `*`) or a required value that was empty.
# Prints rows read / loaded / filtered / rejected per file; exits 1 on any violation.
#
# The real files live beside the repository in ../shared/realdata (never inside it). Without that
# folder there is nothing to check and the script exits 0.
#
# Usage: bash scripts/conformance.sh            (builds target/release/opsync)
#        OPSYNC=target/debug/opsync bash scripts/conformance.sh
#        REALDATA=/path/to/realdata bash scripts/conformance.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
realdata="${REALDATA:-$root/../shared/realdata}"

if [[ ! -d "$realdata" ]]; then
    echo "conformance: no real-world files at $realdata; nothing to check"
    exit 0
fi
realdata="$(cd "$realdata" && pwd)"

if ! command -v jq >/dev/null 2>&1; then
    # jq reads opsync's JSON output; install it where we can (CI runs as root on Debian).
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
        echo "conformance: installing jq"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq) >/dev/null
    else
        echo "conformance: jq is needed to read opsync's JSON output (apt-get install jq)" >&2
        exit 1
    fi
fi

if [[ -n "${OPSYNC:-}" ]]; then
    opsync="$(cd "$(dirname "$OPSYNC")" && pwd)/$(basename "$OPSYNC")"
else
    (cd "$root" && cargo build --release --quiet)
    opsync="$root/target/release/opsync"
fi
if [[ ! -x "$opsync" ]]; then
    echo "conformance: $opsync is not an executable" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
ledger="$work/ledger.db"

# real file (under realdata) | shipped mapping (under mappings/) | extra [source] settings
# (workbooks, by their extension, are read as `kind = "excel"`, the rest as csv)
cases=(
    "openboxes/csv/products.csv|openboxes/products.mapping.toml|"
    "openboxes/csv/products_export_sample.csv|openboxes/products.mapping.toml|"
    "openboxes/csv/WHO_products.csv|openboxes/products.mapping.toml|"
    "openboxes/csv/locations.csv|openboxes/locations.mapping.toml|"
    "openboxes/csv/binLocations.csv|openboxes/locations.mapping.toml|"
    "snipe-it/assets-sample.csv|snipeit/assets.mapping.toml|encoding = \"utf-8\""
    "atlas-cmms/work_order.csv|cmms/work_orders.mapping.toml|"
    "atlas-cmms/asset.csv|cmms/assets.mapping.toml|"
    "openboxes/csv/inventoryLevels.csv|openboxes/inventory_levels.mapping.toml|"
    "openboxes/csv/productSuppliers.csv|openboxes/supplier_items.mapping.toml|"
    "openboxes/xls/ProductSuppliers.xls|openboxes/supplier_items.mapping.toml|sheet = \"Sheet1\""
)

# A reason is explained when it names a field, a rule and a message, and carries the offending
# value unless it is record-level or an empty required value.
unexplained='
  [.rejects[] as $r | $r.reasons[] as $x
   | select(($x.field // "") == "" or ($x.rule // "") == "" or ($x.message // "") == ""
            or ((($x.value // "") == "") and $x.field != "*" and $x.rule != "required"))
   | "  row \($r.row // "?") (line \($r.line // "?")), \($r.entity): field=\($x.field // "") rule=\($x.rule // "") value=\($x.value // "") message=\($x.message // "")"]
  | .[]'

files=0 rows=0 rejects=0 failures=0
printf '%-42s %-40s %6s %7s %9s %9s\n' "file" "mapping" "read" "loaded" "filtered" "rejected"
for case in "${cases[@]}"; do
    IFS='|' read -r file mapping extra <<<"$case"
    src="$realdata/$file"
    map="$root/mappings/$mapping"
    if [[ ! -f "$src" ]]; then
        echo "conformance: $file is missing from $realdata" >&2
        failures=$((failures + 1))
        continue
    fi
    files=$((files + 1))
    name="conformance-$(echo "$file" | tr -c 'A-Za-z0-9\n' '-' | tr 'A-Z' 'a-z')"
    case "$file" in
        *.xls | *.xlsx | *.xlsm | *.xlsb | *.ods) kind=excel ;;
        *) kind=csv ;;
    esac
    job="$work/$name.job.toml"
    cat >"$job" <<EOF
mapping = '$map'

[job]
name = "$name"
mode = "upsert"
max_reject_percent = 100

[source]
kind = "$kind"
path = '$src'
$extra

[target]
kind = "sqlite"
path = '$work/$name.db'
EOF
    set +e
    "$opsync" --ledger "$ledger" --no-progress -q run "$job" >"$work/$name.out" 2>&1
    status=$?
    set -e
    if [[ $status -ne 0 ]]; then
        echo "FAIL $file: opsync run exited $status" >&2
        sed 's/^/  /' "$work/$name.out" >&2
        failures=$((failures + 1))
        continue
    fi
    run_json="$("$opsync" --ledger "$ledger" runs --job "$name" -n 1 --format json)"
    run_id="$(jq -r '.[0].id' <<<"$run_json")"
    read_n="$(jq -r '.[0].read' <<<"$run_json")"
    loaded="$(jq -r '.[0].valid' <<<"$run_json")"
    filtered="$(jq -r '.[0].filtered' <<<"$run_json")"
    rejected="$(jq -r '.[0].rejected' <<<"$run_json")"
    printf '%-42s %-40s %6s %7s %9s %9s\n' "$file" "$mapping" "$read_n" "$loaded" "$filtered" "$rejected"
    rows=$((rows + read_n))
    rejects=$((rejects + rejected))

    rejects_json="$("$opsync" --ledger "$ledger" rejects --run "$run_id" --format json -n 1000000)"
    listed="$(jq '.rejects | length' <<<"$rejects_json")"
    if [[ "$listed" -ne "$rejected" ]]; then
        echo "FAIL $file: the run counts $rejected rejects but the ledger lists $listed" >&2
        failures=$((failures + 1))
    fi
    bad="$(jq -r "$unexplained" <<<"$rejects_json")"
    if [[ -n "$bad" ]]; then
        echo "FAIL $file: rejects without a field, rule, value or message:" >&2
        echo "$bad" >&2
        failures=$((failures + 1))
    fi
done

if [[ $failures -ne 0 ]]; then
    echo "conformance: $failures problem(s) in $files files" >&2
    exit 1
fi
echo "conformance: $files files, $rows rows, $rejects rejects, all explained"
