#!/usr/bin/env bash
# SLURM training: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args]
# Env: GPUS (total tasks, default 8), GPUS_PER_NODE (tasks per node, default 8),
#      CPUS_PER_TASK (default 5), SRUN_ARGS (extra srun arguments),
#      GRES (default gpu:$GPUS_PER_NODE; set GRES= on a CPU-only partition: the tasks then use
#      gloo on CPU, see sola_mm/engine/launch.py).
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-"gpu:$GPUS_PER_NODE"}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=${@:5}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK_DIR_ARG=""
if [ -n "$WORK_DIR" ]; then WORK_DIR_ARG="--work-dir=$WORK_DIR"; fi
GRES_ARG=""
if [ -n "$GRES" ]; then GRES_ARG="--gres=$GRES"; fi

PYTHONPATH="$HERE/..":$PYTHONPATH \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    $GRES_ARG \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    python -u "$HERE/train.py" "$CONFIG" $WORK_DIR_ARG --launcher="slurm" $PY_ARGS
