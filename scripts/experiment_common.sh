#!/usr/bin/env bash
# Sourced by the experiment scripts: their log line, whether a run has finished
# training, and the check that a world model exists.
log() { echo "== $(date +%T) $*"; }
# Whether the run in $1 has finished training.
finished() { [ -f "$1/checkpoints/latest" ] && grep -q '"done"' "$1/checkpoints/$(cat "$1/checkpoints/latest")/state.json"; }
# Exit 2 with a one-line error unless $1 holds a world model's checkpoints.
require_world() { [ -d "$1/checkpoints" ] || { echo "no world model at $1: run bash scripts/demo.sh first, or pass one" >&2; exit 2; }; }
