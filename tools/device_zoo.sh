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
# (seconds, default 520), OUT (where the tarball goes; the device sets it), PY (default python3).
set -u
DEADLINE=${DEADLINE:-520}; OUT=${OUT:?OUT must name the folder that comes back}
export RUNS=${RUNS:-runs/zoo} PY=${PY:-python3} PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" XDG_CACHE_HOME=${XDG_CACHE_HOME:-/tmp/xdg}
[ -d "${DATA:?set DATA to the data root}" ] || { echo "device_zoo: no data root $DATA (carry it)" >&2; exit 2; }
$PY -c "import srcnn, torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" || exit 1
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
