#!/bin/bash
# Train the model zoo side by side on one GPU: 9-1-5 x2/x3/x4 (T91 + downscaled copies), 9-5-5
# x2/x3/x4 (T91 + BSDS200 + General100) and a multi-scale 9-5-5 (1.5 ... 4). This is how the shipped
# srcnn-915-x* models were made (MINUTES=6.8, then RESUME=1 MINUTES=11, on one H200).
#
#   DATA=../shared/data RUNS=runs/zoo MINUTES=30 bash tools/train_zoo.sh          # new runs
#   DATA=../shared/data RUNS=runs/zoo MINUTES=60 RESUME=1 bash tools/train_zoo.sh # go on
#
# With only --max-minutes the cosine follows the clock, so a resumed run with a larger budget
# re-warms the learning rate and anneals again. Each run logs to RUNS/NAME.log; the pairs are
# rebuilt per run (set XDG_CACHE_HOME to share a cache). Env: DEVICE (cuda), LR955 (9-5-5 base lr,
# default 1e-3), PY (python3).
set -u
DATA=${DATA:?set DATA to the data root}; RUNS=${RUNS:-runs/zoo}; MINUTES=${MINUTES:-10}
DEVICE=${DEVICE:-cuda}; PY=${PY:-python3}; LR955=${LR955:-1e-3}
RES=""; [ "${RESUME:-0}" = 1 ] && RES="--resume"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONUNBUFFERED=1
mkdir -p "$RUNS"
C="$PY -m srcnn train -q $RES --data-root $DATA --device $DEVICE --recipe fast --max-minutes $MINUTES --eval-every 2000 --ckpt-every 1000 --size 64 --batch-size 128"
T91="--train-set T91 --downscale 0.9 --downscale 0.8 --downscale 0.7 --downscale 0.6"
ALL="--train-set T91 --train-set BSDS200 --train-set General100 --lr $LR955"
pids=""
for k in 2 3 4; do
  $C --arch 9-1-5 --scale $k $T91 --out "$RUNS/915-x$k" >> "$RUNS/915-x$k.log" 2>&1 & pids="$pids $!"
  $C --arch 9-5-5 --scale $k $ALL --out "$RUNS/955-x$k" >> "$RUNS/955-x$k.log" 2>&1 & pids="$pids $!"
done
$C --arch 9-5-5 --scale 3 --scale 1.5 --scale 2 --scale 2.5 --scale 3.5 --scale 4 $ALL --out "$RUNS/955-ms" \
  >> "$RUNS/955-ms.log" 2>&1 & pids="$pids $!"
status=0
for p in $pids; do wait "$p" || status=1; done
for f in "$RUNS"/*/metrics.csv; do echo "$f: $(tail -1 "$f")"; done
exit $status
