# The two commands: `make run` (the assistant) and `make test` (every test).
.PHONY: setup run test shell train validate nlu-eval clean

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

clean:
	rm -rf models/*.tar.gz results .pytest_cache
