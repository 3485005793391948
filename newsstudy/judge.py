"""Rubric judges for interest coverage (R_cov) and specificity (R_spec).

The paper scores coverage and specificity with an LLM judge following "Rubrics as Rewards"
(arXiv:2507.17746): explicit pass/fail criteria with weights, score = sum(w * c) / sum(w).
Two judges share one rubric and one interface here:

- ``RubricJudge`` (default) decides each criterion by computation over what production
  sees: the user's *cleaned* signals and the news corpus. It infers the user's interests by
  mapping each cleaned signal to the judge's own clusters of the corpus (its own k-means,
  not the simulator's topics) and keeping the clusters that hold a real share of the
  signals.
- ``LLMJudge`` renders the same criteria as yes/no questions for any Hugging Face causal LM
  and passes a criterion when the model puts more probability on " yes" than on " no".

Neither judge ever sees the latent interests or the held-out clicks.

Rubric (weights in brackets):

R_cov, per list:
  * for each inferred interest i of the user: "some query addresses interest i"
    [weight = i's share of the user's signals]
  * "at least 80% of the queries address one of the user's interests" [1.0]

R_spec, per query, averaged over the list:
  * "has at least two content words" [2]
  * "is not a generic news query (e.g. 'latest news')" [2]
  * "names something specific: a term that is rare in the corpus" [1]
  * "is between 2 and 10 words long" [1]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

GENERIC_QUERIES = ("latest news", "breaking news", "top stories", "news today",
                   "world news", "headlines", "what happened today", "trending now",
                   "news", "current events")
_WORD = re.compile(r"[a-z][a-z0-9\-']+")


@dataclass(frozen=True)
class Criterion:
    """One pass/fail rubric item."""

    reward: str
    name: str
    weight: str
    question: str


RUBRIC: tuple[Criterion, ...] = (
    Criterion("cov", "interest_i_addressed", "share of the user's signals in interest i",
              "Does at least one query address the user's interest in {interest}?"),
    Criterion("cov", "queries_on_interest", "1",
              "Do at least 80% of the queries address interests shown in the user's history?"),
    Criterion("spec", "content_words", "2", "Does the query '{query}' have at least two content words?"),
    Criterion("spec", "not_generic", "2", "Is the query '{query}' more specific than a generic news query such as 'latest news'?"),
    Criterion("spec", "specific_term", "1", "Does the query '{query}' name a specific person, place, organisation or event?"),
    Criterion("spec", "sane_length", "1", "Is the query '{query}' between 2 and 10 words long?"),
)
SPEC_WEIGHTS = {"content_words": 2.0, "not_generic": 2.0, "specific_term": 1.0, "sane_length": 1.0}
ON_INTEREST_SHARE = 0.8
ON_INTEREST_WEIGHT = 1.0


def rubric_table() -> pd.DataFrame:
    """The rubric as a table (reward, criterion, weight, question)."""
    return pd.DataFrame([c.__dict__ for c in RUBRIC])


def content_words(text: str) -> list[str]:
    """Lower-case words of 2+ characters that are not English stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]


@dataclass
class UserInterests:
    """The judge's view of one user: interest clusters and their share of the signals."""

    clusters: np.ndarray
    shares: np.ndarray


@dataclass
class RubricJudge:
    """Computes the rubric from embeddings of signals, queries and the corpus.

    Args:
        centroids: unit-norm centroids of the judge's corpus clusters.
        cluster_names: a few keywords per cluster (for display and the LLM judge).
        rare_terms: corpus terms that appear in under 2% of articles (specific names).
        generic_vectors: embeddings of generic news queries.
        min_similarity: a text belongs to its nearest cluster only above this cosine.
        min_share: an interest must hold at least this share of the user's signals.
        max_interests: at most this many interests per user.
        generic_similarity: a query this close to a generic query is generic.
    """

    centroids: np.ndarray
    cluster_names: list[str]
    rare_terms: frozenset[str]
    generic_vectors: np.ndarray
    min_similarity: float = 0.25
    min_share: float = 0.1
    max_interests: int = 5
    generic_similarity: float = 0.75
    _interests: dict[int, UserInterests] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(cls, article_vectors: np.ndarray, article_texts: Sequence[str], embedder,
            n_clusters: int, seed: int, **settings) -> RubricJudge:
        """Cluster the corpus (its own k-means) and prepare the rubric's resources."""
        kmeans = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed + 7919)
        labels = kmeans.fit_predict(article_vectors)
        centroids = kmeans.cluster_centers_.astype(np.float32)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
        counts = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z\-]{2,}\b",
                                 min_df=2, binary=True)
        try:
            doc_terms = counts.fit_transform(article_texts)
        except ValueError:  # no term occurs twice: nothing is rare, clusters go unnamed
            doc_terms = sparse.csr_matrix((len(article_texts), 1))
            counts = None
        vocab = counts.get_feature_names_out() if counts is not None else np.array(["?"])
        doc_freq = np.asarray(doc_terms.sum(axis=0)).ravel() / doc_terms.shape[0]
        rare = frozenset(vocab[doc_freq < 0.02])
        names = []
        for c in range(n_clusters):
            in_c = np.asarray(doc_terms[labels == c].sum(axis=0)).ravel()
            lift = in_c / max((labels == c).sum(), 1) - doc_freq
            names.append(", ".join(vocab[np.argsort(-lift)[:3]]))
        generic = embedder.encode(list(GENERIC_QUERIES))
        return cls(centroids, names, rare, generic, **settings)

    # ------------------------------------------------------------------ interests
    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """Nearest cluster per row, or -1 when no cluster is similar enough."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.int64)
        sims = vectors @ self.centroids.T
        best = sims.argmax(axis=1)
        return np.where(sims[np.arange(len(best)), best] >= self.min_similarity, best, -1)

    def infer_interests(self, signal_users: np.ndarray, signal_vectors: np.ndarray) -> None:
        """Infer every user's interests from their cleaned signals (one row per signal)."""
        clusters = self.assign(signal_vectors)
        frame = pd.DataFrame({"user": signal_users, "cluster": clusters})
        frame = frame[frame["cluster"] >= 0]
        self._interests = {}
        for user, group in frame.groupby("user"):
            counts = group["cluster"].value_counts()
            shares = counts / counts.sum()
            shares = shares[shares >= self.min_share].head(self.max_interests)
            self._interests[int(user)] = UserInterests(shares.index.to_numpy(np.int64),
                                                       shares.to_numpy(np.float64))

    def interests(self, user: int) -> UserInterests:
        """The judge's inferred interests of a user (empty if it saw no usable signal)."""
        return self._interests.get(int(user), UserInterests(np.zeros(0, np.int64), np.zeros(0)))

    # ------------------------------------------------------------------ rubric
    def coverage(self, user: int, query_clusters: np.ndarray) -> tuple[float, dict]:
        """R_cov for one list from the clusters its queries were assigned to."""
        mine = self.interests(user)
        if len(query_clusters) == 0:
            return 0.0, {"interests_covered": 0, "interests": len(mine.clusters)}
        covered = np.isin(mine.clusters, query_clusters)
        on_interest = np.isin(query_clusters, mine.clusters).mean() if len(mine.clusters) else 0.0
        passed_on = float(on_interest >= ON_INTEREST_SHARE)
        score = (float((mine.shares * covered).sum()) + ON_INTEREST_WEIGHT * passed_on) / (
            float(mine.shares.sum()) + ON_INTEREST_WEIGHT)
        return score, {"interests_covered": int(covered.sum()), "interests": len(mine.clusters)}

    def specificity_checks(self, queries: Sequence[str], query_vectors: np.ndarray
                           ) -> np.ndarray:
        """Pass/fail matrix (queries x SPEC_WEIGHTS criteria) for the specificity rubric."""
        checks = np.zeros((len(queries), len(SPEC_WEIGHTS)), dtype=bool)
        if len(queries) == 0:
            return checks
        generic_sim = (query_vectors @ self.generic_vectors.T).max(axis=1)
        for row, query in enumerate(queries):
            words = content_words(query)
            n_words = len(query.split())
            lowered = query.lower().strip()
            checks[row] = (
                len(words) >= 2,
                lowered not in GENERIC_QUERIES and generic_sim[row] < self.generic_similarity,
                any(w in self.rare_terms for w in words),
                2 <= n_words <= 10,
            )
        return checks

    def specificity(self, queries: Sequence[str], query_vectors: np.ndarray) -> float:
        """R_spec: mean over queries of the weighted share of passed criteria."""
        if len(queries) == 0:
            return 0.0
        weights = np.array(list(SPEC_WEIGHTS.values()))
        checks = self.specificity_checks(queries, query_vectors)
        return float((checks @ weights / weights.sum()).mean())


class LLMJudge:
    """The same rubric asked of a Hugging Face causal LM, criterion by criterion.

    A criterion passes when the model's next-token probability of " yes" exceeds that of
    " no" after the question. Works with any ``AutoModelForCausalLM`` and its tokenizer;
    the interests it asks about are the rubric judge's inferred clusters (by name), so both
    judges grade the same items.
    """

    def __init__(self, model, tokenizer, rubric_judge: RubricJudge, max_length: int = 512):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.rubric = rubric_judge
        self.max_length = max_length
        self.yes_id = self._token_id(" yes")
        self.no_id = self._token_id(" no")

    def _token_id(self, word: str) -> int:
        ids = self.tokenizer.encode(word, add_special_tokens=False)
        return int(ids[-1]) if ids else 0

    def _passes(self, prompts: list[str]) -> np.ndarray:
        import torch

        if not prompts:
            return np.zeros(0, dtype=bool)
        pad_side = getattr(self.tokenizer, "padding_side", "right")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, truncation=True,
                               max_length=self.max_length)
        self.tokenizer.padding_side = pad_side
        with torch.no_grad():
            logits = self.model(**batch).logits[:, -1, :]
        return (logits[:, self.yes_id] > logits[:, self.no_id]).numpy()

    @staticmethod
    def _prompt(signals: Sequence[str], queries: Sequence[str], question: str) -> str:
        history = "; ".join(list(signals)[:20])
        listed = " | ".join(queries)
        return (f"User history: {history}\nQueries: {listed}\n"
                f"Question: {question} Answer yes or no.\nAnswer:")

    def coverage(self, user: int, signals: Sequence[str], queries: Sequence[str]) -> float:
        """R_cov by asking the model each coverage criterion."""
        mine = self.rubric.interests(user)
        if not queries:
            return 0.0
        questions = [RUBRIC[0].question.format(interest=self.rubric.cluster_names[c])
                     for c in mine.clusters] + [RUBRIC[1].question]
        passed = self._passes([self._prompt(signals, queries, q) for q in questions])
        weights = np.append(mine.shares, ON_INTEREST_WEIGHT)
        return float((weights * passed).sum() / weights.sum())

    def specificity(self, queries: Sequence[str]) -> float:
        """R_spec by asking the model each specificity criterion for each query."""
        if not queries:
            return 0.0
        spec = [c for c in RUBRIC if c.reward == "spec"]
        weights = np.array([SPEC_WEIGHTS[c.name] for c in spec])
        prompts = [self._prompt([], [q], c.question.format(query=q)) for q in queries for c in spec]
        passed = self._passes(prompts).reshape(len(queries), len(spec))
        return float((passed @ weights / weights.sum()).mean())
