#!/usr/bin/env bash
# The main job: set up the machine, build, then `sandtable demo`: record, pretrain the world
# model, evaluate it against copy-last, fine-tune the agent on expert demonstrations, evaluate it
# closed loop against random and expert, and write runs/demo/report.html. About 15 minutes on
# 2 CPU cores after the build; re-running reuses every finished stage (pass --fresh to start over).
set -euo pipefail
source "$(dirname "$0")/build.sh"
"$bin" demo --out runs/demo "$@"
