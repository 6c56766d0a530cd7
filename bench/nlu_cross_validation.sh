#!/usr/bin/env bash
# 5-fold cross-validation of the NLU pipeline (config.yml on data/nlu).
# Prints the intent macro F1 (target >= 0.93) and the entity F1 per extractor.
set -euo pipefail
. "$(dirname "$0")/../scripts/env.sh"
out=${1:-bench/out/cross_validation}
mkdir -p "$out"
start=$(date +%s)
.venv/bin/rasa test nlu --nlu data/nlu --config config.yml --cross-validation --folds 5 \
  --out "$out" > "$out/rasa.log" 2>&1
echo "cross-validation wall time: $(( $(date +%s) - start )) s"
.venv/bin/python - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
report = json.loads((out / "intent_report.json").read_text())
macro = report["macro avg"]
print(f"intent macro F1: {macro['f1-score']:.4f} (precision {macro['precision']:.4f}, recall {macro['recall']:.4f})")
worst = sorted((v["f1-score"], k) for k, v in report.items() if isinstance(v, dict) and "support" in v and k not in ("macro avg", "weighted avg", "micro avg"))[:5]
print("weakest intents:", ", ".join(f"{k} {f:.3f}" for f, k in worst))
for path in sorted(out.glob("*Extractor_report.json")):
    entity = json.loads(path.read_text())
    print(f"{path.stem}: entity macro F1 {entity['macro avg']['f1-score']:.4f}")
PY
