#!/usr/bin/env bash
# Wall time of a full `rasa train` (NLU + dialogue) into a throw-away folder,
# with Rasa's training cache disabled so nothing is reused.
set -euo pipefail
. "$(dirname "$0")/../scripts/env.sh"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s%N)
RASA_MAX_CACHE_SIZE=0 .venv/bin/rasa train --out "$out" --fixed-model-name bench \
  --force > "$out/train.log" 2>&1
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf 'full training wall time: %d.%01d s (model %s)\n' $((ms / 1000)) $((ms % 1000 / 100)) \
  "$(du -h "$out/bench.tar.gz" | cut -f1)"
