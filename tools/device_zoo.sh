#!/bin/bash
# One lent-GPU call of tools/train_zoo.sh that always brings its runs back: the zoo runs in the
# background until it ends or DEADLINE seconds pass; then its training processes get SIGTERM (each
# saves its checkpoint and last.safetensors on the way out), and RUNS is packed into $OUT/zoo.tgz.
#
#   (device command, with .devdata carried: python tools/y_planes.py --data-root ../shared/data \
#    --out .devdata T91 BSDS200 General100 --copy Set5, here, once)
#   DEADLINE=520 DATA=.devdata FROM_SHIPPED=1 ONLY="955-x4 915-x4d" MIN915=7 MIN955=8 bash tools/device_zoo.sh
#
# A second call on the warm machine resumes the same runs (ignored paths stay there while it is
# warm; carry .devdata again). Session 14 learnt the two traps this avoids: `pkill -f "srcnn train"`
# also matches the calling shell's own command line and kills it before the tarball is written, and
# a call that names no carry loses .devdata. Env: everything tools/train_zoo.sh takes, plus DEADLINE
# (seconds, default 520), OUT (where the tarball goes; the device sets it), PY (default python3), LAYOUT
# (auto: pick the convolutions' memory layout by timing it first; see below).
set -u
DEADLINE=${DEADLINE:-520}; OUT=${OUT:?OUT must name the folder that comes back}
export RUNS=${RUNS:-runs/zoo} PY=${PY:-python3} PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/xdg}
[ -d "${DATA:?set DATA to the data root}" ] || { echo "device_zoo: no data root $DATA (carry it)" >&2; exit 2; }
$PY -c "import srcnn, torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1
# LAYOUT=auto: time 9-5-5's training step in NCHW and NHWC first (about 20 s, taken from DEADLINE) and add
# --channels-last to every run when NHWC is at least 5 % faster; the choice is kept in RUNS/layout, so a
# resume on the warm machine reuses it without timing again.
if [ "${LAYOUT:-}" = auto ]; then
  mkdir -p "$RUNS"
  if [ ! -s "$RUNS/layout" ]; then
    t0=$SECONDS
    $PY "$(dirname "$0")/../benchmarks/train_speed.py" --device cuda --size 64 --seconds 3 --arch 9-5-5 --amp tf32 \
      --channels-last > "$OUT/layout.json" 2>&1
    $PY -c 'import json, sys
r = {x["layout"]: x["subimages_per_s"] for x in json.loads(open(sys.argv[1]).read().splitlines()[-1])["results"]}
print("nhwc" if r["nhwc"] >= 1.05 * r["nchw"] else "nchw")' "$OUT/layout.json" > "$RUNS/layout" || echo nchw > "$RUNS/layout"
    DEADLINE=$((DEADLINE - (SECONDS - t0)))
  fi
  layout=$(cat "$RUNS/layout")
  echo "device_zoo: layout $layout (timings in layout.json; DEADLINE now $DEADLINE s)"
  [ "$layout" = nhwc ] && export ZOOOPTS="${ZOOOPTS:-} --channels-last"
fi
bash "$(dirname "$0")/train_zoo.sh" > "$OUT/zoo.out" 2>&1 &
zoo=$!
waited=0
while kill -0 "$zoo" 2>/dev/null && [ "$waited" -lt "$DEADLINE" ]; do sleep 1; waited=$((waited + 1)); done
if kill -0 "$zoo" 2>/dev/null; then
  echo "device_zoo: deadline ($DEADLINE s) reached: stopping the runs"
  pkill -TERM -P "$zoo"  # the zoo's own children: the training processes, nothing else
fi
wait "$zoo"; status=$?
echo "device_zoo: zoo exit $status after $waited s"
tar czf "$OUT/zoo.tgz" "$RUNS"
for f in "$RUNS"/*.log; do [ -f "$f" ] && echo "== $f" && grep -v '^\s*$' "$f" | tail -n 3; done
exit $status
