#!/usr/bin/env bash
# `cpsample sample` at 2,000 images as a user runs it, two rounds (the second in reverse order), wall seconds of each
# process (imports included). Run from the repository root:
#   bash reports/bench/cli_time/run.sh reports/bench/cli_time/times.tsv
# SAMPLERS picks the samplers (default "ddim cpsample reject"); "gated" is the label-bit gate of --gate, with the
# classifiers GATE names (DIR+DIR+DIR), threshold 0.15, asked at t <= 450:
#   SAMPLERS="ddim cpsample gated" GATE=DIR+DIR+DIR bash reports/bench/cli_time/run.sh reports/bench/cli_time/times_gate.tsv
set -eu
out=$1; tmp=$(mktemp -d)
samplers=${SAMPLERS:-ddim cpsample reject}
echo -e "round\tsampler\twall_s" > "$out"
run() { local name=$1; shift; local t0=$(date +%s.%N); .venv/bin/cpsample sample --model fashion --n 2000 --threads 2 --out "$tmp/$name.safetensors" "$@" > "$tmp/$name.log" 2>&1; echo -e "$r\t$name\t$(echo "$(date +%s.%N) - $t0" | bc)" >> "$out"; }
for r in 1 2; do
  if [ $r = 1 ]; then order=$samplers; else order=$(echo $samplers | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for s in $order; do
    case $s in ddim) run ddim;; cpsample) run cpsample --classifier fashion;; reject) run reject --classifier fashion --reject;;
      gated) run gated --classifier fashion --gate "$GATE" --gate-threshold 0.15 --gate-t-max 450;;
      *) echo "unknown sampler $s (ddim, cpsample, reject, gated)" >&2; exit 2;; esac
  done
done
grep -h "redrew\|copies\|wrote" "$tmp"/*.log | tail -4 >> "$out.log" || true
rm -rf "$tmp"
