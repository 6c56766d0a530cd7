"""The provider's knowledge base: ``data/knowledge/*.md`` split into passages, searched.

Designers edit the Markdown files; each ``##`` heading (or ``#`` when a file
has no ``##``) starts a passage whose text is what the bot may say. The
running action server notices edited files (by size and mtime, checked at
most every ``KNOWLEDGE_RELOAD_SECONDS``) and re-indexes them: no retraining.

Retrieval is TF-IDF (scikit-learn, already installed with Rasa; nothing is
downloaded) over two views of the text, averaged: folded words (lower case,
accents removed, stop words dropped, a light Portuguese suffix stemmer) and
character 3-5-grams, which absorb typos and customers' spelling ("roteadr",
"wifi"/"wi-fi"), and a small map of customers' words to the provider's
(``SLANG``: "modem" -> roteador, "remarcar" -> reagendar). Scores are cosine
similarities in [0, 1].
"""
from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from sklearn.feature_extraction.text import TfidfVectorizer

from bot.llm.settings import LlmSettings, llm_settings

logger = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "data" / "knowledge"

# Common words that say nothing about the topic (folded, no accents).
STOP_WORDS = frozenset("""
a o as os um uma uns umas de da do das dos d em no na nos nas num numa para pra pro
por pelo pela pelos pelas com sem e ou que se me te lhe nos vos eu tu ele ela eles elas
voce voces vc vcs meu minha meus minhas seu sua seus suas nosso nossa isso isto esse essa
este esta aquele aquela la ai aqui ja nao n sim mais muito muita tem ter tenho tinha ha
foi ser sou esta estou estao era como qual quais quando onde quem porque pq q oi ola
bom boa dia tarde noite por favor obrigado obrigada gostaria queria quero saber preciso
posso pode podem consigo fazer faz to ta tou entao so tambem tb tbm ate ao aos the
quanto quantos quanta quantas mesmo mesma mesmos coisa alguma algum agora ainda
""".split())

# Customers' abbreviations and everyday words, mapped to the words the
# provider's texts use (folded). Extend it when the fallback export shows
# customers asking with other words.
SLANG = {
    "net": "internet", "vc": "voce", "vcs": "voces", "cel": "celular", "td": "tudo",
    "hj": "hoje", "msg": "mensagem", "end": "endereco", "qto": "quanto", "qnto": "quanto",
    "qdo": "quando", "mb": "mega", "modem": "roteador", "aparelhinho": "roteador",
    "caixinha": "onu", "apagar": "excluir", "deletar": "excluir", "remarcar": "reagendar",
    "desmarcar": "cancelar", "pausar": "suspender", "congelar": "suspender",
    "viajar": "viagem", "cair": "compensar", "caiu": "compensou", "demora": "prazo",
    "cobra": "custo", "cobram": "custo", "pago": "custo", "gratis": "gratuita",
    "cortada": "bloqueada", "cortaram": "bloquearam", "cortou": "bloqueou",
}

_SUFFIXES = ("amentos", "imentos", "amento", "imento", "acoes", "icoes", "mente", "acao",
             "icao", "ando", "endo", "indo", "ados", "idos", "adas", "idas", "ado", "ido",
             "ada", "ida", "ar", "er", "ir", "oes", "aes", "ais", "eis", "es", "s", "a", "o", "e")


def fold(text: str) -> str:
    """Lower case without accents: ``"Instalação"`` -> ``"instalacao"``."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def stem(word: str) -> str:
    """A light Portuguese stemmer: one common suffix off (at least 4 letters kept),
    then at most 6 letters, so "suspender"/"suspensao" or "devolver"/"devolucao"
    meet (truncation stemming works well for Portuguese retrieval)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:6]


def words(text: str) -> List[str]:
    """Folded, expanded, stemmed content words of ``text``."""
    tokens = re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", fold(text))
    out = []
    for token in tokens:
        token = SLANG.get(token, token)
        for part in token.replace("-", " ").split() if token != "wi-fi" else ["wifi"]:
            if part not in STOP_WORDS and (len(part) > 1 or part.isdigit()):
                out.append(stem(part))
    return out


def _chars_text(text: str) -> str:
    return " ".join(SLANG.get(token, token) for token in re.findall(r"[a-z0-9]+", fold(text)))


@dataclass(frozen=True)
class Passage:
    source: str  # file name, e.g. "wifi.md"
    heading: str
    text: str

    @property
    def ref(self) -> str:
        """``wifi.md#Como reiniciar o roteador``: how tests and logs name a passage."""
        return f"{self.source}#{self.heading}"


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float


def split_passages(source: str, markdown: str) -> List[Passage]:
    """One passage per ``##`` section (the ``#`` title is context, kept in the heading
    of a file without sections). Empty sections are skipped."""
    title, heading, lines, out = "", "", [], []

    def flush() -> None:
        body = "\n".join(lines).strip()
        if body and (heading or title):
            out.append(Passage(source, heading or title, body))

    for line in markdown.splitlines():
        match = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if match and len(match.group(1)) <= 2:
            flush()
            lines = []
            if len(match.group(1)) == 1:
                title, heading = match.group(2), ""
            else:
                heading = match.group(2)
        else:
            lines.append(line)
    flush()
    return out


class Index:
    """TF-IDF over a fixed list of passages."""

    def __init__(self, passages: Sequence[Passage]):
        self.passages = list(passages)
        # The heading counts twice: it is the designer's summary of the passage.
        docs = [f"{p.heading}. {p.heading}. {p.text}" for p in self.passages]
        self._words = TfidfVectorizer(analyzer=words, sublinear_tf=True)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5),
                                      preprocessor=_chars_text, sublinear_tf=True)
        if self.passages:
            self._word_matrix = self._words.fit_transform(docs)
            self._char_matrix = self._chars.fit_transform(docs)

    def search(self, query: str, k: int = 3) -> List[Hit]:
        if not self.passages or not (query or "").strip():
            return []
        word_scores = (self._word_matrix @ self._words.transform([query]).T).toarray().ravel()
        char_scores = (self._char_matrix @ self._chars.transform([query]).T).toarray().ravel()
        scores = 0.5 * word_scores + 0.5 * char_scores
        best = scores.argsort()[::-1][:k]
        return [Hit(self.passages[i], round(float(scores[i]), 4)) for i in best if scores[i] > 0]


class KnowledgeBase:
    """The Markdown directory, re-indexed when a file is added, edited or removed."""

    def __init__(self, directory: Optional[Path] = None, reload_seconds: float = 2.0):
        self.directory = Path(directory or DEFAULT_DIR)
        self.reload_seconds = reload_seconds
        self._signature: Tuple = ()
        self._checked = 0.0
        self._index = Index([])
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, settings: Optional[LlmSettings] = None) -> "KnowledgeBase":
        """``KNOWLEDGE_DIR`` (default ``data/knowledge``), ``KNOWLEDGE_RELOAD_SECONDS`` (2)."""
        settings = settings or llm_settings()
        return cls(Path(settings.knowledge_dir or DEFAULT_DIR), settings.knowledge_reload_seconds)

    def _files(self) -> List[Path]:
        return sorted(self.directory.glob("*.md"))

    def _current_signature(self) -> Tuple:
        signature = []
        for path in self._files():
            try:
                stat = path.stat()
            except OSError:  # removed between glob and stat
                continue
            signature.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(signature)

    def refresh(self, force: bool = False) -> None:
        """Re-index if the files changed (checked at most every ``reload_seconds``)."""
        now = time.monotonic()
        if not force and self._signature and now - self._checked < self.reload_seconds:
            return
        with self._lock:
            self._checked = now
            signature = self._current_signature()
            if signature == self._signature and not force:
                return
            passages: List[Passage] = []
            for path in self._files():
                try:
                    passages.extend(split_passages(path.name, path.read_text(encoding="utf-8")))
                except (OSError, UnicodeDecodeError) as error:
                    logger.error("knowledge: cannot read %s: %s", path, error)
            self._index = Index(passages)
            self._signature = signature
            logger.info("knowledge: %d passages from %d files in %s",
                        len(passages), len(signature), self.directory)

    @property
    def passages(self) -> List[Passage]:
        self.refresh()
        return self._index.passages

    def search(self, query: str, k: int = 3) -> List[Hit]:
        """The ``k`` passages most similar to ``query``, best first (score > 0)."""
        self.refresh()
        return self._index.search(query, k)
