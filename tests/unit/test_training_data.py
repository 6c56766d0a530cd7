"""Checks on data/ that `rasa data validate` does not make."""
import re
import unicodedata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MIN_EXAMPLES_PER_INTENT = 30


def normalise(text: str) -> str:
    text = re.sub(r"\]\{.*?\}|\]\(.*?\)", "", text).replace("[", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^\w ]", "", text.lower()).strip()


def training_examples() -> dict:
    examples = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text())["nlu"]:
            if "intent" in item:
                lines = [l[2:] for l in item["examples"].splitlines() if l.startswith("- ")]
                examples.setdefault(item["intent"], []).extend(lines)
    return examples


def test_every_intent_has_enough_varied_examples():
    domain_intents = yaml.safe_load((ROOT / "domain.yml").read_text())["intents"]
    examples = training_examples()
    assert set(examples) == set(domain_intents)
    for intent, lines in examples.items():
        distinct = {normalise(line) for line in lines}
        assert len(distinct) >= MIN_EXAMPLES_PER_INTENT, intent


def test_test_story_utterances_are_not_in_training_data():
    trained = {normalise(line) for lines in training_examples().values() for line in lines}
    stories = yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text())["stories"]
    said = [step["user"] for story in stories for step in story["steps"] if "user" in step]
    assert said
    copied = [text for text in said if normalise(text) in trained]
    assert not copied, f"test utterances copied into data/nlu: {copied}"


def test_test_stories_cover_every_intent():
    domain_intents = set(yaml.safe_load((ROOT / "domain.yml").read_text())["intents"])
    stories = yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text())["stories"]
    covered = {step["intent"] for story in stories for step in story["steps"] if "intent" in step}
    assert len(stories) >= 25
    assert covered == domain_intents
