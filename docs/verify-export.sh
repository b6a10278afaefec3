#!/usr/bin/env bash
# Check an export of `kancha export --case ID DIR` with standard tools only:
#   bash verify-export.sh DIR
# It prints each device's chain head; compare them with heads handed out before
# (an earlier export, a printed `kancha verify`) to catch a chain rewritten as a whole.
set -euo pipefail
cd "$1"
# 1. Every photo's bytes hash to its file name.
for f in photos/*; do
  [ -f "$f" ] || continue
  [ "$(sha256sum < "$f" | cut -c1-64)" = "${f#photos/}" ] || { echo "FAILED: $f altered"; exit 1; }
done
# 2. Every chain entry hashes to its digest and follows the one before; every packet in
#    case.json is the body its entry hashed, as received and settled; every photo is there.
python3 - <<'EOF'
import base64, hashlib, json, os, sys

def fail(why):
    sys.exit("FAILED: " + why)

heads, chain = {}, [json.loads(line) for line in open("chain.jsonl")]
for e in chain:
    n, prev = heads.get(e["device_id"], (0, "0" * 64))
    if e["n"] != n + 1 or e["prev"] != prev:
        fail(f"device {e['device_id']}: entry {e['n']} does not follow entry {n}")
    fields = ["kancha-chain-1", e["prev"], e["device_id"], str(e["n"]), e["packet_id"],
              str(e["seq"]), e["body_sha256"], e["received_at"], e["status"],
              ",".join(e["media"])]
    if hashlib.sha256(("\n".join(fields) + "\n").encode()).hexdigest() != e["digest"]:
        fail(f"device {e['device_id']}: entry {e['n']} does not hash to its digest")
    heads[e["device_id"]] = (e["n"], e["digest"])
entries = {e["packet_id"]: e for e in chain}
case = json.load(open("case.json"))
for p in case["packets"]:
    e = entries.get(p["packet_id"])
    if e is None:
        fail(f"packet {p['packet_id']}: in no chain entry")
    if hashlib.sha256(base64.b64decode(p["body_base64"])).hexdigest() != e["body_sha256"]:
        fail(f"packet {p['packet_id']}: its body is not the one chained")
    for k in ("device_id", "seq", "received_at", "status"):
        if p[k] != e[k]:
            fail(f"packet {p['packet_id']}: {k} is not the one chained")
    for sha in e["media"]:
        if sha not in case["photos"] + case["photos_not_received"]:
            fail(f"packet {p['packet_id']}: photo {sha} left out")
for sha in case["photos"]:
    if not os.path.isfile(os.path.join("photos", sha)):
        fail(f"photo {sha} missing")
for device, (n, digest) in sorted(heads.items()):
    print(f"head {device} {n} {digest}")
print(f"ok: {len(chain)} chain entries, {len(case['packets'])} packets, "
      f"{len(case['photos'])} photos")
EOF
