"""A fitted TF-IDF + logistic regression pipeline, scored for one text with
plain dictionaries and numpy: the same probabilities as ``predict_proba``.

sklearn checks and converts its input on every call and builds CSR matrices
and a FeatureUnion hstack for what is, for one WhatsApp message, a few dozen
n-grams; that overhead was most of the classifier's time per turn. The
arithmetic is sklearn's: counts per vocabulary entry, sublinear TF
(1 + log tf), times idf, L2-normalised per vectorizer, then the softmax of
the linear scores (multinomial logistic regression).
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

Part = Tuple[Callable[[str], List[str]], Dict[str, int], np.ndarray, int]


class LinearTfidf:
    def __init__(self, parts: List[Part], weights: np.ndarray, intercept: np.ndarray) -> None:
        self.parts = parts
        self.weights = weights  # features x classes
        self.intercept = intercept

    @classmethod
    def of(cls, pipeline: Pipeline) -> Optional["LinearTfidf"]:
        """The scorer of a fitted ``union of TfidfVectorizers -> LogisticRegression``
        pipeline; None for any other shape (the caller keeps sklearn's path)."""
        union, model = pipeline.steps[0][1], pipeline.steps[-1][1]
        if len(pipeline.steps) != 2 or not isinstance(union, FeatureUnion) or not isinstance(
                model, LogisticRegression) or len(model.classes_) < 3 or model.multi_class == "ovr":
            return None
        parts: List[Part] = []
        offset = 0
        for _, vectorizer in union.transformer_list:
            if not (isinstance(vectorizer, TfidfVectorizer) and vectorizer.sublinear_tf
                    and vectorizer.use_idf and vectorizer.norm == "l2" and not vectorizer.binary):
                return None
            parts.append((vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset))
            offset += len(vectorizer.vocabulary_)
        return cls(parts, np.ascontiguousarray(model.coef_.T), model.intercept_.copy())

    def probabilities(self, text: str) -> np.ndarray:
        scores = self.intercept.copy()
        for analyzer, vocabulary, idf, offset in self.parts:
            counts = Counter(index for index in map(vocabulary.get, analyzer(text)) if index is not None)
            if not counts:
                continue
            indices = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))))
            values *= idf[indices]
            values /= np.sqrt(values @ values)
            scores += values @ self.weights[indices + offset]
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()
