"""components/linear_tfidf.py gives sklearn's predict_proba, to the last digits."""
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from components.linear_tfidf import LinearTfidf
from components.tfidf_intent_classifier import TfidfIntentClassifier

EXAMPLES = {
    "greet": ["oi", "ola boa tarde", "bom diaa", "eae blz", "oii td bem"],
    "ask_invoice": ["segunda via do boleto", "manda a fatura", "qro pagar minha conta", "boleto atrasado"],
    "no_connection": ["to sem net", "internet caiu", "sem sinal no roteador", "a net nao funciona"],
    "ask_plans": ["quais os planos", "qnto custa 500 mega", "tem plano de 1 giga", "valor da fibra"],
}
UNSEEN = ["", "???", "oi quero o boleto", "ÇÃO net caiu dnv!!", "xyzzy", "planos planos planos", "529.982.247-25"]


@pytest.fixture(scope="module")
def pipeline():
    texts = [text for examples in EXAMPLES.values() for text in examples]
    labels = [intent for intent, examples in EXAMPLES.items() for _ in examples]
    component = TfidfIntentClassifier.__new__(TfidfIntentClassifier)
    component.config = TfidfIntentClassifier.get_default_config()
    return component._new_pipeline().fit(texts, labels)


def test_probabilities_match_predict_proba(pipeline):
    scorer = LinearTfidf.of(pipeline)
    texts = UNSEEN + [text for examples in EXAMPLES.values() for text in examples]
    expected = pipeline.predict_proba(texts)
    got = np.array([scorer.probabilities(text) for text in texts])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_other_pipeline_shapes_keep_sklearns_path():
    two_classes = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(["boleto fatura", "sem internet"], ["x", "y"])
    assert LinearTfidf.of(two_classes) is None
