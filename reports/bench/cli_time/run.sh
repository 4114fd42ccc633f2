#!/usr/bin/env bash
# `cpsample sample` at 2,000 images as a user runs it: plain DDIM, CPSample, CPSample --reject, two rounds in alternating
# order, wall seconds of each process (imports included). Run from the repository root:
#   bash reports/bench/cli_time/run.sh reports/bench/cli_time/times.tsv
set -eu
out=$1; tmp=$(mktemp -d)
echo -e "round\tsampler\twall_s" > "$out"
run() { local name=$1; shift; local t0=$(date +%s.%N); .venv/bin/cpsample sample --model fashion --n 2000 --threads 2 --out "$tmp/$name.safetensors" "$@" > "$tmp/$name.log" 2>&1; echo -e "$r\t$name\t$(echo "$(date +%s.%N) - $t0" | bc)" >> "$out"; }
for r in 1 2; do
  if [ $r = 1 ]; then order="ddim cpsample reject"; else order="reject cpsample ddim"; fi
  for s in $order; do
    case $s in ddim) run ddim;; cpsample) run cpsample --classifier fashion;; reject) run reject --classifier fashion --reject;; esac
  done
done
grep -h "redrew\|copies\|wrote" "$tmp"/reject.log | tail -3 >> "$out.log" || true
rm -rf "$tmp"
