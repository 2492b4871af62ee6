#!/usr/bin/env bash
# Writes the seeds of the harnesses whose inputs are protobuf bytes, from readable text-format
# messages encoded by protoc with the real schema:
#   corpus/rpc/seed_*           from seeds/rpc/<Rpc>.<what>.txtpb: one byte choosing the RPC (its
#                               index in rpc_fuzz.cc's kRpcs, listed here in the same order), then
#                               the encoded <Rpc>Request;
#   corpus/enforce_view/seed_*  from seeds/enforce_view/<name>.txtpb ("# topic: state|changes" and
#                               "# key: <record key>" lines, then a TargetStateSnapshot or a
#                               ConsentChanged), as enforce_view_fuzz.cc reads records, plus the
#                               multi-record seeds listed in seeds/enforce_view/COMBOS.
# Usage: tests/fuzz/seeds/proto_seeds.sh  (rewrites those seed_* files; run from anywhere).
set -euo pipefail
cd "$(dirname "$0")/../../.."
seeds=tests/fuzz/seeds
encode() {  # encode MESSAGE PROTO < text
  protoc -I proto -I /usr/include --encode="$1" "$2"
}
byte() { printf "\\x$(printf %02x "$1")"; }

RPCS=(CreateTenant GetTenant ListTenants CreatePurpose UpdatePurpose GetPurpose ListPurposes
  SetDefaultPolicy GetDefaultPolicy RecordDecisions LinkContactPoint UnlinkContactPoint
  SetPreferences SuppressContactPoint GetSubjectState GetContactPointState ListHistory
  VerifyHistory Check BatchCheck CreateLink ConfirmDecision ResendConfirmation RequestExportLink
  ListRepermissionRequired EraseSubject GetErasure SetLegalHold OffboardTenant GetOffboarding
  ImportDecisions GetConsentReport ApplyContactLink)
out=tests/fuzz/corpus/rpc
mkdir -p "$out"
rm -f "$out"/seed_*
for f in "$seeds"/rpc/*.txtpb; do
  name=$(basename "$f" .txtpb)
  rpc=${name%%.*}
  index=-1
  for i in "${!RPCS[@]}"; do if [ "${RPCS[$i]}" = "$rpc" ]; then index=$i; fi; done
  if [ "$index" -lt 0 ]; then echo "proto_seeds: unknown RPC $rpc in $f" >&2; exit 1; fi
  case "$rpc" in
    CreateTenant | GetTenant | ListTenants | CreatePurpose | UpdatePurpose | GetPurpose | \
      ListPurposes | SetDefaultPolicy | GetDefaultPolicy) proto=assent/v1/catalog.proto ;;
    ImportDecisions) proto=assent/v1/import.proto ;;
    GetConsentReport) proto=assent/v1/report.proto ;;
    ApplyContactLink) proto=assent/v1/admin.proto ;;
    *) proto=assent/v1/consent.proto ;;
  esac
  { byte "$index"; encode "assent.v1.${rpc}Request" "$proto" < "$f"; } > "$out/seed_$name"
done

# One view record: flags byte, key, '\n', two-byte length, value.
record() {  # record FLAGS KEY VALUE_FILE
  local length
  length=$(stat -c %s "$3")
  byte "$1"; printf '%s\n' "$2"; byte $((length >> 8)); byte $((length & 255)); cat "$3"
}
out=tests/fuzz/corpus/enforce_view
mkdir -p "$out"
rm -f "$out"/seed_*
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$seeds"/enforce_view/*.txtpb; do
  name=$(basename "$f" .txtpb)
  topic=$(sed -n 's/^# topic: //p' "$f")
  key=$(sed -n 's/^# key: //p' "$f")
  if [ "$topic" = changes ]; then
    encode assent.v1.ConsentChanged assent/v1/events.proto < "$f" > "$tmp/$name.bin"
    flags=1
  else
    encode assent.v1.TargetStateSnapshot assent/v1/events.proto < "$f" > "$tmp/$name.bin"
    flags=0
  fi
  record "$flags" "$key" "$tmp/$name.bin" > "$tmp/$name.record"
  cp "$tmp/$name.record" "$out/seed_$name"
done
: > "$tmp/empty"
grep -v '^#' "$seeds/enforce_view/COMBOS" | while read -r name parts; do
  for part in $parts; do
    case "$part" in
      tombstone:*) record 2 "${part#tombstone:}" "$tmp/empty" ;;
      *) cat "$tmp/$part.record" ;;
    esac
  done > "$out/seed_$name"
done
echo "proto_seeds: wrote $(ls tests/fuzz/corpus/rpc | wc -l) rpc and" \
  "$(ls "$out" | wc -l) enforce_view seeds"
