# The two commands: `make run` (the assistant) and `make test` (every test).
SHELL := /bin/bash
.PHONY: setup run test shell train validate nlu-eval export-fallbacks deploy-check smoke clean

setup:
	@scripts/setup.sh

run: setup
	@scripts/run.sh

test: setup
	@scripts/test.sh

shell: setup
	@scripts/shell.sh

train: setup
	@scripts/train.sh

validate: setup
	@. scripts/env.sh && .venv/bin/rasa data validate --fail-on-warnings

# 5-fold cross-validation of the NLU model (slow: about five trainings).
nlu-eval: setup
	@bench/nlu_cross_validation.sh

# Messages that went to the LLM fallback, as NLU YAML to review (OUT=file.yml).
export-fallbacks: setup
	@. scripts/env.sh && .venv/bin/python -m bot.llm export-fallbacks --out $${OUT:-fallbacks.yml}

# Offline checks of deploy/ (Dockerfile, compose, nginx, Helm chart); needs no .venv.
deploy-check:
	@deploy/check.sh

# The container smoke test: builds the image, runs the compose stack, talks to it
# through nginx on 127.0.0.1, tears it down (root, docker; docs/deployment.md).
smoke: setup
	@deploy/smoke.sh

clean:
	rm -rf models/*.tar.gz results .pytest_cache
