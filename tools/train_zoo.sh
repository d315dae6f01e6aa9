#!/bin/bash
# Train the model zoo side by side on one GPU: 9-1-5 x2/x3/x4 (T91 + downscaled copies), 9-5-5
# x2/x3/x4 (T91 + BSDS200 + General100) and a scale-conditioned multi-scale 9-5-5 (x1.5 ... x4,
# weights quadratic in the scale), fine-tuned from a trained x3 9-5-5 (MSINIT, default the shipped
# srcnn-955-x3: every scale starts as that network). A run whose folder already holds a checkpoint is resumed (with
# the budget given: the wall-clock cosine then re-warms the learning rate and anneals again).
#
#   DATA=../shared/data RUNS=runs/zoo MIN915=11 MIN955=30 bash tools/train_zoo.sh
#   DATA=... RUNS=... ONLY="955-x3 955-ms" MIN955=60 bash tools/train_zoo.sh   # some runs only
#   DATA=... RUNS=... ONLY="955-sib-x1.5 955-sib-x2 955-sib-x3 955-sib-x4" MIN955=10 bash tools/train_zoo.sh
#   DATA=... RUNS=... FROM_SHIPPED=1 ONLY="955-x3 955-x4 915-x4d 955-x4d" MIN915=9 MIN955=9 bash tools/train_zoo.sh
#
# Going on from the shipped models (a new checkout has no run folders): with FROM_SHIPPED=1, runs
# 915-xK and 955-xK that have no checkpoint start from srcnn-915-xK / srcnn-955-xK (955-x4 with the
# downscaled copies its last stages added); runs 915-xKd and 955-xKd (not in the default ONLY) are a
# round of self-distillation, the recipe of srcnn-915-x3's and -x4's last steps: from the shipped
# model, labels half ground truth, half its 8-view self-ensemble, lr 1e-4, 200-step warm-up. Runs
# 955-knot-xK (not in the default ONLY) take the same recipe to srcnn-955-ms's knot at xK, taught by
# srcnn-955-xK: rebuild the ms model with the new knot (tools/ms_from_anchors.py --linear) and keep it
# only if it passes the ms rule (val15 at the eleven quarter scales, the 14 photos at the eighth scales).
# Then `python tools/val15.py srcnn-955-x4=RUNS/955-x4d/last.safetensors ...` applies the selection
# rule, and tools/ship_model.py ships what it picks.
#
# On a lent GPU, run it through tools/device_zoo.sh: a deadline inside the call's limit, then every
# run stopped cleanly (checkpoint saved) and RUNS packed into $OUT/zoo.tgz.
#
# The registry (src/srcnn/pretrained.py) records the budgets of each shipped model. Each run logs
# to RUNS/NAME.log; the pairs are rebuilt per run (set XDG_CACHE_HOME to share a cache).
# Env: DEVICE (cuda), PY (python3), ONLY (run names, default all), MIN915 / MIN955 (minutes of
# each run's total budget, across resumes), MSINIT (weights the multi-scale run starts from),
# MSOPTS (extra options of the multi-scale run, e.g. --balance-scales), ZOOOPTS (extra options of
# every run, e.g. --amp bf16: benchmarks/train_speed.py --device cuda --amp ... timed it on an H200: 9-5-5 1.29x
# faster in bf16, 9-1-5 slower in fp16 and bf16; no shipped model used it; or --channels-last, not timed on a
# GPU yet: benchmarks/train_speed.py --device cuda --size 64 --amp tf32 bf16 --channels-last).
set -u
DATA=${DATA:?set DATA to the data root}; RUNS=${RUNS:-runs/zoo}
MIN915=${MIN915:-10}; MIN955=${MIN955:-10}; DEVICE=${DEVICE:-cuda}; PY=${PY:-python3}
ONLY=${ONLY:-"915-x2 915-x3 915-x4 955-x2 955-x3 955-x4 955-ms"}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONUNBUFFERED=1
mkdir -p "$RUNS"
T91="--train-set T91 --downscale 0.9 --downscale 0.8 --downscale 0.7 --downscale 0.6"
ALL="--train-set T91 --train-set BSDS200 --train-set General100"
pids=""
job() {  # job NAME MINUTES ARGS...: start one run in the background (resumed when it has a checkpoint)
  local name=$1 minutes=$2; shift 2
  case " $ONLY " in *" $name "*) ;; *) return ;; esac
  local res=""; [ -f "$RUNS/$name/checkpoint.pt" ] && res="--resume"
  $PY -m srcnn train -q $res --data-root "$DATA" --device "$DEVICE" --recipe fast --max-minutes "$minutes" \
    --eval-every 2000 --ckpt-every 1000 --size 64 --batch-size 128 --out "$RUNS/$name" ${ZOOOPTS:-} "$@" \
    >> "$RUNS/$name.log" 2>&1 &
  pids="$pids $!"
}
DOWN="--downscale 0.9 --downscale 0.8 --downscale 0.7 --downscale 0.6"
DISTILL="--lr 1e-4 --warmup 200"
for k in 2 3 4; do
  from915=""; from955=""; x4=""; [ "$k" = 4 ] && x4=$DOWN
  if [ -n "${FROM_SHIPPED:-}" ]; then
    from915="--init-from srcnn-915-x$k"; from955="--init-from srcnn-955-x$k $x4"
  fi
  job "915-x$k" "$MIN915" --arch 9-1-5 --scale $k $T91 $from915
  job "955-x$k" "$MIN955" --arch 9-5-5 --scale $k $ALL $from955
  job "915-x${k}d" "$MIN915" --arch 9-1-5 --scale $k $T91 --init-from "srcnn-915-x$k" --distill-from "srcnn-915-x$k" \
    $DISTILL
  job "955-x${k}d" "$MIN955" --arch 9-5-5 --scale $k $ALL $x4 --init-from "srcnn-955-x$k" --distill-from "srcnn-955-x$k" \
    $DISTILL
  # the multi-scale model's knot at xK (SIBINIT folded there) fine-tuned towards srcnn-955-xK's self-ensemble,
  # so that a per-scale model that trained on does not leave the knot behind (DM2: within 0.05 dB at x2/3/4)
  job "955-knot-x$k" "$MIN955" --arch 9-5-5 --scale $k $ALL $x4 --init-from "${SIBINIT:-srcnn-955-ms}" \
    --distill-from "srcnn-955-x$k" $DISTILL
done
job 955-ms "$MIN955" --arch 9-5-5 --scale 3 --scale 1.5 --scale 2 --scale 2.5 --scale 3.5 --scale 4 \
  --scale-poly 2 --init-from "${MSINIT:-srcnn-955-x3}" ${MSOPTS:-} $ALL
# Siblings for a piecewise-linear multi-scale model (not in the default ONLY): 9-5-5 at x1.5, x2, x2.5,
# x3, x3.5 and x4 fine-tuned from SIBINIT (default srcnn-955-ms, folded at each run's scale). Networks
# fine-tuned from one ancestor interpolate; independently trained ones do not, even with their
# channels matched (measured: docs in tools/ms_from_anchors.py). Afterwards
#   python tools/ms_from_anchors.py --linear 1.5=RUNS/955-sib-x1.5/last.safetensors 2=RUNS/955-sib-x2/... \
#     2.5=RUNS/955-sib-x2.5/... 3=... 3.5=... 4=RUNS/955-sib-x4/last.safetensors --out ms.safetensors
# (the shipped srcnn-955-ms: siblings at x1.5, 2, 3, 4 for 10 minutes on an H100 shared by 6 runs; its
# x2.5 and x3.5 knots fine-tuned on a CPU instead: the recipe is in `srcnn models`). The shipped
# srcnn-955-x2 and -x3 are those x2 and x3 siblings resumed with MIN955=16.5 (an H100 shared by 12 runs),
# then 22.5 and 26.3 (an H200 shared by 6), srcnn-955-x4 the x4 one resumed so with ZOOOPTS="--downscale 0.9
# --downscale 0.8 --downscale 0.7 --downscale 0.6"; srcnn-915-x3's and -x4's last steps (distilled from their
# own self-ensembles) are in their recipes.
for k in 1.5 2 2.5 3 3.5 4; do
  job "955-sib-x$k" "$MIN955" --arch 9-5-5 --scale $k --init-from "${SIBINIT:-srcnn-955-ms}" $ALL
done
status=0
for p in $pids; do wait "$p" || status=1; done
for f in "$RUNS"/*/metrics.csv; do echo "$f: $(tail -1 "$f")"; done
exit $status
