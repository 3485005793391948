"""Rubric judges for interest coverage (R_cov) and specificity (R_spec).

The paper scores coverage and specificity with an LLM judge following "Rubrics as Rewards"
(arXiv:2507.17746): explicit criteria with weights, score = sum(w * c) / sum(w). Two judges
share one rubric and one interface here:

- ``RubricJudge`` (default) decides each criterion by computation over what production
  sees: the user's *cleaned* signals, the completion, and the news index of history-window
  articles (the same index R_align searches). It never sees the latent interests, event
  labels or held-out clicks.
- ``LLMJudge`` renders the same criteria as yes/no questions for any Hugging Face causal LM
  and passes a criterion when the model puts more probability on " yes" than on " no".

What the rubric judge knows about the world, all fitted from production data:

* its own clusters of the history articles (k-means on their embeddings, not the
  simulator's topics), and which cluster each article is in;
* which words each article contains (title, subtitle, opening), and each word's document
  frequency: a word in under 2% of the articles (and at least two) is *rare*, a name;
* *web boilerplate*: words far more frequent in users' signals than in news articles (site
  and page-type words such as "wikipedia", "podcast", "thread"; at least 3 times as
  frequent, in at least 0.2% of the signals). They carry no content and are ignored;
* per user, from the cleaned signals: the *interests* -- the judge's clusters that hold at
  least ``min_share`` of the articles the user's signals retrieve (top-10 each, in the
  index), at most ``max_interests``, each with its share -- and the user's *own terms*: the
  content words seen in at least two of the user's signals, ranked by count times inverse
  user frequency (what this user names more than others do), at most 15.

A query's *content words* are its lower-case words of 2+ characters that are neither
English stop words nor boilerplate. Its *hits* are its top-10 articles in the index.

Rubric (weights in brackets):

R_cov, per list, on the articles the list retrieves (all its queries' hits):
  * for each interest i: "the list's hits give interest i at least half its share of the
    user's signals" [i's share of the user's interest signals; the interests sum to 1]
  * "the queries address the user's interests" [2]: the share of queries that do, where a
    query does when most of its hits fall in the user's interest clusters *and* it names one
    of the user's own terms (the LLM judge answers it yes/no for the whole list)

R_spec, per query, averaged over the list. A query that is not coherent passes nothing:
  * coherent: "its words belong together: one of its hits contains at least half of its
    content words" [3]
  * "is coherent and has at least two content words" [1]
  * "is coherent and not a generic news query (e.g. 'latest news')" [2]
  * "is coherent and names something specific: a word that is rare in the corpus" [1]
  * "is coherent and between 2 and 10 words long" [1]

So a bag of unrelated words (incoherent), generic queries, bare single words, filler and
queries about things the user never showed all score low on one rubric or the other, while
each criterion stays something a production judge can check with the same inputs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

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
    Criterion("cov", "interest_i_addressed", "share of the user's interest signals in interest i",
              "Do the queries give the user's interest in {interest} at least half the weight "
              "it has in the user's history?"),
    Criterion("cov", "queries_on_interest", "2 (the share of queries that pass)",
              "Do the queries address the interests shown in the user's history, each naming "
              "something the user has searched, read or browsed?"),
    Criterion("spec", "coherent", "3",
              "Do the words of the query '{query}' belong together, as in one news story?"),
    Criterion("spec", "content_words", "1",
              "Is the query '{query}' coherent, with at least two content words?"),
    Criterion("spec", "not_generic", "2",
              "Is the query '{query}' coherent and more specific than a generic news query "
              "such as 'latest news'?"),
    Criterion("spec", "specific_term", "1",
              "Is the query '{query}' coherent, and does it name a specific person, place, "
              "organisation or event?"),
    Criterion("spec", "sane_length", "1",
              "Is the query '{query}' coherent and between 2 and 10 words long?"),
)
SPEC_WEIGHTS = {"coherent": 3.0, "content_words": 1.0, "not_generic": 2.0,
                "specific_term": 1.0, "sane_length": 1.0}
ON_INTEREST_SHARE = 0.5
"""A query addresses the user's interests when at least this share of its hits fall in
the user's interest clusters (and it names one of the user's own terms)."""
ON_INTEREST_WEIGHT = 2.0
"""Weight of "the queries address the user's interests" beside the interests (sum 1)."""
NAMES_WEIGHT = 1.0
HITS_WEIGHT = 0.0
COVER_NAMED = False
COVER_SHARE = 0.5
"""Interest i is covered when the list's hits in it reach this fraction of i's share."""
RARE_DOC_FREQ = 0.02
BOILERPLATE_RATIO = 3.0
BOILERPLATE_MIN_SIGNAL_FREQ = 0.002
MAX_USER_TERMS = 15
MIN_TERM_SIGNALS = 2
MAX_QUERY_TERMS = 32
"""Content words looked at per query (a pathological query cannot blow up the work)."""


def rubric_table() -> pd.DataFrame:
    """The rubric as a table (reward, criterion, weight, question)."""
    return pd.DataFrame([c.__dict__ for c in RUBRIC])


def content_words(text: str) -> list[str]:
    """Lower-case words of 2+ characters that are not English stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]


def coverage_score(shares: np.ndarray, interest_passes: np.ndarray, on_interest: float,
                   n_queries: int) -> float:
    """R_cov from its criteria: interests weighted by share, plus the on-interest term.

    ``on_interest`` is the share of queries that address the user's interests (the rubric
    judge) or a yes/no verdict (the LLM judge). 0 for an empty list or a user without
    interests.
    """
    shares = np.asarray(shares, dtype=float)
    if n_queries == 0 or shares.sum() <= 0:
        return 0.0
    passes = np.asarray(interest_passes, dtype=float)
    return float(((shares * passes).sum() + ON_INTEREST_WEIGHT * float(on_interest))
                 / (shares.sum() + ON_INTEREST_WEIGHT))


@dataclass
class UserInterests:
    """The judge's view of one user.

    ``clusters``: interest clusters, largest first; ``shares``: their weights in R_cov
    (each cluster's share of the user's interest signals; they sum to 1);
    ``signal_shares``: each cluster's share of all the articles the user's signals
    retrieve; ``terms``: the user's own terms, most telling first.
    """

    clusters: np.ndarray
    shares: np.ndarray
    signal_shares: np.ndarray | None = None
    terms: tuple[str, ...] = ()
    interest_terms: tuple[frozenset, ...] = ()
    profile: np.ndarray | None = None

    def __post_init__(self):
        if self.signal_shares is None:
            self.signal_shares = np.asarray(self.shares, dtype=np.float64)


_NO_INTERESTS = UserInterests(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), ())


def _vocabulary(texts: Sequence[str]) -> tuple[dict[str, int], sparse.csr_matrix]:
    """Term -> column, and the binary (texts x terms) matrix of which text has which."""
    vocab: dict[str, int] = {}
    indptr, indices = [0], []
    for text in texts:
        cols = {vocab.setdefault(w, len(vocab)) for w in content_words(str(text))}
        indices.extend(sorted(cols))
        indptr.append(len(indices))
    matrix = sparse.csr_matrix((np.ones(len(indices), np.float32), np.array(indices, np.int64),
                                np.array(indptr, np.int64)), shape=(len(texts), max(len(vocab), 1)))
    return vocab, matrix


@dataclass
class RubricJudge:
    """Computes the rubric from the corpus, the index's hits and the users' signals.

    Args:
        centroids: unit-norm centroids of the judge's corpus clusters.
        cluster_names: a few keywords per cluster (for display and the LLM judge).
        rare_terms: corpus terms that appear in under 2% of the articles (and in two).
        generic_vectors: embeddings of generic news queries.
        article_ids: id of each corpus article (the ids the index returns).
        article_clusters: the judge's cluster of each article.
        article_vectors: unit vectors of the articles (to search when no hits are given).
        vocabulary: content word -> column of ``doc_terms``.
        doc_terms: binary (articles x words) matrix: which article contains which word.
        boilerplate: words ignored as web boilerplate (set by ``infer_interests``).
        min_similarity: a signal belongs to its nearest cluster only above this cosine
            (only when interests are inferred without hits).
        min_share: an interest must hold at least this share of the articles the user's
            signals retrieve.
        max_interests: at most this many interests per user.
        generic_similarity: a query this close to a generic query is generic.
        hit_floor: hits below this cosine do not count as retrieved.
        k: hits per query (and per signal) when the judge searches itself.
    """

    centroids: np.ndarray
    cluster_names: list[str]
    rare_terms: frozenset[str]
    generic_vectors: np.ndarray
    article_ids: np.ndarray | None = None
    article_clusters: np.ndarray | None = None
    article_vectors: np.ndarray | None = None
    vocabulary: dict[str, int] = field(default_factory=dict, repr=False)
    doc_terms: sparse.csr_matrix | None = field(default=None, repr=False)
    boilerplate: frozenset[str] = frozenset()
    min_similarity: float = 0.25
    min_share: float = 0.1
    max_interests: int = 5
    generic_similarity: float = 0.75
    hit_floor: float = 0.0
    on_min_share: float | None = None
    k: int = 10
    _interests: dict[int, UserInterests] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.centroids = np.asarray(self.centroids, dtype=np.float32)
        if self.article_ids is None:
            self.article_ids = np.zeros(0, np.int64)
            self.article_clusters = np.zeros(0, np.int64)
        self.article_ids = np.asarray(self.article_ids, dtype=np.int64)
        self.article_clusters = np.asarray(self.article_clusters, dtype=np.int64)
        if self.doc_terms is None:
            self.doc_terms = sparse.csr_matrix((len(self.article_ids), 1), dtype=np.float32)
        size = int(self.article_ids.max()) + 1 if len(self.article_ids) else 0
        self._row_of_id = np.full(size + 1, -1, dtype=np.int64)  # last slot: id -1
        self._row_of_id[self.article_ids] = np.arange(len(self.article_ids))
        self._n_terms = max(len(self.vocabulary), 1)
        coo = self.doc_terms.tocoo()
        self._pairs = np.sort(coo.row.astype(np.int64) * self._n_terms + coo.col)
        self._rare = np.zeros(self._n_terms, dtype=bool)
        for term in self.rare_terms:
            if term in self.vocabulary:
                self._rare[self.vocabulary[term]] = True
        self._user_pairs = np.zeros(0, np.int64)

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(cls, article_vectors: np.ndarray, article_texts: Sequence[str], embedder,
            n_clusters: int, seed: int, article_ids: np.ndarray | None = None,
            **settings) -> RubricJudge:
        """Cluster the corpus (its own k-means) and prepare the rubric's resources."""
        article_vectors = np.asarray(article_vectors, dtype=np.float32)
        kmeans = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed + 7919)
        labels = kmeans.fit_predict(article_vectors)
        centroids = kmeans.cluster_centers_.astype(np.float32)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12
        vocab, doc_terms = _vocabulary(article_texts)
        terms = np.empty(len(vocab), dtype=object)
        for term, col in vocab.items():
            terms[col] = term
        counts = np.asarray(doc_terms.sum(axis=0)).ravel()[: len(vocab)]
        doc_freq = counts / max(doc_terms.shape[0], 1)
        rare = frozenset(terms[(counts >= 2) & (doc_freq < RARE_DOC_FREQ)].tolist())
        names = []
        common = counts >= 2
        for c in range(n_clusters):
            members = labels == c
            in_c = np.asarray(doc_terms[members].sum(axis=0)).ravel()[: len(vocab)]
            lift = np.where(common, in_c / max(members.sum(), 1) - doc_freq, -np.inf)
            names.append(", ".join(terms[np.argsort(-lift)[:3]].tolist()) if len(vocab) else "?")
        generic = embedder.encode(list(GENERIC_QUERIES))
        ids = np.arange(len(article_vectors)) if article_ids is None else np.asarray(article_ids)
        return cls(centroids, names, rare, generic, article_ids=ids, article_clusters=labels,
                   article_vectors=article_vectors, vocabulary=vocab, doc_terms=doc_terms,
                   **settings)

    # ------------------------------------------------------------------ words
    def query_terms(self, text: str) -> list[str]:
        """Distinct content words of a text, boilerplate dropped (at most 32)."""
        words = dict.fromkeys(w for w in content_words(text) if w not in self.boilerplate)
        return list(words)[:MAX_QUERY_TERMS]

    def learn_boilerplate(self, signal_texts: Sequence[str]) -> frozenset[str]:
        """Words far more frequent in the signals than in the articles (site, page words)."""
        if not len(signal_texts) or not self.vocabulary:
            return self.boilerplate
        counts: dict[str, int] = {}
        for text in signal_texts:
            for word in dict.fromkeys(content_words(str(text))):
                counts[word] = counts.get(word, 0) + 1
        n_docs = max(self.doc_terms.shape[0], 1)
        doc_counts = np.asarray(self.doc_terms.sum(axis=0)).ravel()
        words = []
        for word, count in counts.items():
            signal_freq = count / len(signal_texts)
            col = self.vocabulary.get(word)
            article_freq = (doc_counts[col] if col is not None else 0.0) / n_docs
            if signal_freq >= BOILERPLATE_MIN_SIGNAL_FREQ and \
                    signal_freq >= BOILERPLATE_RATIO * (article_freq + 1.0 / n_docs):
                words.append(word)
        self.boilerplate = frozenset(words)
        return self.boilerplate

    # ------------------------------------------------------------------ hits
    def search(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, article ids) per row over the judge's own article vectors."""
        n = len(vectors)
        k = self.k
        scores = np.zeros((n, k), dtype=np.float32)
        ids = np.full((n, k), -1, dtype=np.int64)
        if self.article_vectors is None or not len(self.article_vectors) or not n:
            return scores, ids
        sims = np.asarray(vectors, dtype=np.float32) @ self.article_vectors.T
        found = min(k, sims.shape[1])
        top = np.argpartition(-sims, found - 1, axis=1)[:, :found]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        scores[:, :found] = np.take_along_axis(sims, top, axis=1)
        ids[:, :found] = self.article_ids[top]
        return scores, ids

    def _hit_rows(self, hit_ids: np.ndarray, hit_scores: np.ndarray | None) -> np.ndarray:
        """Corpus row of every hit, -1 for a missing hit, an unknown id or one below floor."""
        hit_ids = np.asarray(hit_ids, dtype=np.int64)
        safe = np.where((hit_ids >= 0) & (hit_ids < len(self._row_of_id) - 1), hit_ids, -1)
        rows = self._row_of_id[safe]
        if hit_scores is not None and self.hit_floor > 0:
            rows = np.where(np.asarray(hit_scores) >= self.hit_floor, rows, -1)
        return rows

    def _hit_clusters(self, hit_rows: np.ndarray) -> np.ndarray:
        return np.where(hit_rows >= 0, self.article_clusters[np.maximum(hit_rows, 0)], -1) \
            if len(self.article_clusters) else np.full(hit_rows.shape, -1, np.int64)

    # ------------------------------------------------------------------ interests
    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """Nearest cluster per row, or -1 when no cluster is similar enough."""
        if len(vectors) == 0:
            return np.zeros(0, dtype=np.int64)
        sims = vectors @ self.centroids.T
        best = sims.argmax(axis=1)
        return np.where(sims[np.arange(len(best)), best] >= self.min_similarity, best, -1)

    def infer_interests(self, signal_users: np.ndarray, signal_vectors: np.ndarray,
                        signal_texts: Sequence[str] | None = None,
                        hit_ids: np.ndarray | None = None,
                        hit_scores: np.ndarray | None = None) -> None:
        """Infer every user's interests (and own terms) from their cleaned signals.

        One row per signal. With the signals' hits in the index (``hit_ids``, or the
        judge's own search when it holds the article vectors), a user's profile is the
        cluster mix of the articles their signals retrieve; without, each signal counts
        for its nearest cluster. ``signal_texts`` give the boilerplate and the own terms.
        """
        signal_users = np.asarray(signal_users, dtype=np.int64)
        signal_vectors = np.asarray(signal_vectors, dtype=np.float32)
        if signal_texts is not None:
            signal_texts = [str(t) for t in signal_texts]
            self.learn_boilerplate(signal_texts)
        if hit_ids is None and self.article_vectors is not None and len(self.article_ids):
            hit_scores, hit_ids = self.search(signal_vectors)
        if hit_ids is not None and len(self.article_clusters):
            clusters = self._hit_clusters(self._hit_rows(hit_ids, hit_scores))
            users = np.repeat(signal_users, clusters.shape[1])
            frame = pd.DataFrame({"user": users, "cluster": clusters.ravel()})
            n_clusters = len(self.centroids)
            votes = np.zeros((len(clusters), n_clusters + 1), dtype=np.int64)
            np.add.at(votes, (np.repeat(np.arange(len(clusters)), clusters.shape[1]),
                              np.where(clusters >= 0, clusters, n_clusters).ravel()), 1)
            votes[:, n_clusters] = 0
            signal_cluster = np.where(votes.max(axis=1) > 0, votes.argmax(axis=1), -1)
        else:
            signal_cluster = self.assign(signal_vectors)
            frame = pd.DataFrame({"user": signal_users, "cluster": signal_cluster})
        frame = frame[frame["cluster"] >= 0]
        terms = self._user_terms(signal_users, signal_texts) if signal_texts is not None else {}
        seen: dict[tuple[int, int], set] = {}
        if signal_texts is not None:
            for user, cluster, text in zip(signal_users, signal_cluster, signal_texts, strict=True):
                if cluster >= 0:
                    seen.setdefault((int(user), int(cluster)), set()).update(
                        self.vocabulary[w] for w in self.query_terms(text) if w in self.vocabulary)
        self._interests = {}
        for user, group in frame.groupby("user"):
            counts = group["cluster"].value_counts()
            shares = counts / counts.sum()
            shares = shares[shares >= self.min_share].head(self.max_interests)
            raw = shares.to_numpy(np.float64)
            own = terms.get(int(user), ())
            own_ids = {self.vocabulary[t] for t in own}
            self._interests[int(user)] = UserInterests(
                shares.index.to_numpy(np.int64), raw / raw.sum() if raw.sum() else raw, raw,
                own, tuple(frozenset(seen.get((int(user), int(c)), set()) & own_ids)
                           for c in shares.index),
                np.bincount(group["cluster"].to_numpy(), minlength=len(self.centroids))
                / len(group))
        for user, own in terms.items():
            if user not in self._interests:
                self._interests[user] = UserInterests(np.zeros(0, np.int64), np.zeros(0),
                                                      np.zeros(0), own)
        pairs = [int(u) * self._n_terms + self.vocabulary[t]
                 for u, mine in self._interests.items() for t in mine.terms if t in self.vocabulary]
        self._user_pairs = np.unique(np.array(pairs, dtype=np.int64))

    def _user_terms(self, users: np.ndarray, texts: Sequence[str]) -> dict[int, tuple[str, ...]]:
        """Per user: words in >= 2 of their signals, by count x inverse user frequency."""
        rows = [(int(u), w) for u, text in zip(users, texts, strict=True)
                for w in self.query_terms(text) if w in self.vocabulary]
        if not rows:
            return {}
        frame = pd.DataFrame(rows, columns=["user", "term"])
        counts = frame.groupby(["user", "term"]).size().rename("count").reset_index()
        n_users = frame["user"].nunique()
        users_with = counts.groupby("term")["user"].transform("size")
        counts["score"] = counts["count"] * np.log(n_users / users_with)
        counts = counts[counts["count"] >= MIN_TERM_SIGNALS]
        counts = counts.sort_values(["user", "score", "term"], ascending=[True, False, True])
        return {int(u): tuple(g["term"].head(MAX_USER_TERMS)) for u, g in counts.groupby("user")}

    def interests(self, user: int) -> UserInterests:
        """The judge's inferred interests of a user (empty if it saw no usable signal)."""
        return self._interests.get(int(user), _NO_INTERESTS)

    # ------------------------------------------------------------------ rubric, batched
    def _term_table(self, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query index, word column or -1) per content word, and words per query."""
        owner, cols, n_terms = [], [], np.zeros(len(queries), dtype=np.int64)
        for row, query in enumerate(queries):
            words = self.query_terms(query)
            n_terms[row] = len(words)
            owner.extend([row] * len(words))
            cols.extend(self.vocabulary.get(w, -1) for w in words)
        return np.array(owner, np.int64), np.array(cols, np.int64), n_terms

    def _hits_or_search(self, query_vectors, hit_ids, hit_scores):
        if hit_ids is None:
            hit_scores, hit_ids = self.search(np.asarray(query_vectors, dtype=np.float32))
        return np.asarray(hit_ids), (None if hit_scores is None else np.asarray(hit_scores))

    def specificity_checks(self, queries: Sequence[str], query_vectors: np.ndarray,
                           hit_ids: np.ndarray | None = None,
                           hit_scores: np.ndarray | None = None,
                           _terms=None) -> np.ndarray:
        """Pass/fail matrix (queries x SPEC_WEIGHTS criteria) for the specificity rubric.

        ``hit_ids`` / ``hit_scores``: each query's hits (queries x k) in the index; the
        judge searches its own article vectors when they are not given.
        """
        checks = np.zeros((len(queries), len(SPEC_WEIGHTS)), dtype=bool)
        if len(queries) == 0:
            return checks
        query_vectors = np.asarray(query_vectors, dtype=np.float32)
        hit_ids, hit_scores = self._hits_or_search(query_vectors, hit_ids, hit_scores)
        owner, cols, n_terms = _terms if _terms is not None else self._term_table(queries)
        rows = self._hit_rows(hit_ids, hit_scores)
        k = rows.shape[1] if rows.ndim == 2 else 0
        per_hit = np.zeros((len(queries), max(k, 1)), dtype=np.int64)
        known = cols >= 0
        if known.any() and k:
            hit_rows = rows[owner[known]]  # (known words x k)
            keys = hit_rows * self._n_terms + cols[known][:, None]
            place = np.searchsorted(self._pairs, keys)
            found = (hit_rows >= 0) & (place < len(self._pairs)) & (
                self._pairs[np.minimum(place, len(self._pairs) - 1)] == keys)
            np.add.at(per_hit, owner[known], found.astype(np.int64))
        need = np.maximum(1, np.ceil(n_terms / 2))
        coherent = (n_terms >= 1) & (per_hit.max(axis=1) >= need)
        rare = np.zeros(len(queries), dtype=bool)
        if known.any():
            np.logical_or.at(rare, owner[known], self._rare[cols[known]])
        generic_sim = (query_vectors @ self.generic_vectors.T).max(axis=1) \
            if len(self.generic_vectors) else np.zeros(len(queries))
        lowered = np.array([q.lower().strip() in GENERIC_QUERIES for q in queries])
        n_words = np.array([len(q.split()) for q in queries])
        checks[:, 0] = coherent
        checks[:, 1] = coherent & (n_terms >= 2)
        checks[:, 2] = coherent & ~lowered & (generic_sim < self.generic_similarity)
        checks[:, 3] = coherent & rare
        checks[:, 4] = coherent & (n_words >= 2) & (n_words <= 10)
        return checks

    def specificity(self, queries: Sequence[str], query_vectors: np.ndarray,
                    hit_ids: np.ndarray | None = None,
                    hit_scores: np.ndarray | None = None) -> float:
        """R_spec: mean over queries of the weighted share of passed criteria."""
        if len(queries) == 0:
            return 0.0
        weights = np.array(list(SPEC_WEIGHTS.values()))
        checks = self.specificity_checks(queries, query_vectors, hit_ids, hit_scores)
        return float((checks @ weights / weights.sum()).mean())

    def coverage_checks(self, user: int, queries: Sequence[str], query_vectors: np.ndarray,
                        hit_ids: np.ndarray | None = None,
                        hit_scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """R_cov's verdicts for one list: (interest covered, per interest; query on
        interest, per query)."""
        hit_ids, hit_scores = self._hits_or_search(query_vectors, hit_ids, hit_scores)
        covered, on, _ = self._coverage_batch([user], np.array([0, len(queries)]), queries,
                                              hit_ids, hit_scores)
        return covered[0], on

    def coverage(self, user: int, queries: Sequence[str], query_vectors: np.ndarray,
                 hit_ids: np.ndarray | None = None,
                 hit_scores: np.ndarray | None = None) -> tuple[float, dict]:
        """R_cov for one list, and how many of the user's interests it covers."""
        mine = self.interests(user)
        covered, on = self.coverage_checks(user, queries, query_vectors, hit_ids, hit_scores)
        score = coverage_score(mine.shares, covered, on.mean() if len(on) else 0.0, len(queries))
        return score, {"interests_covered": int(covered.sum()), "interests": len(mine.clusters)}

    def _coverage_batch(self, users: Sequence[int], bounds: np.ndarray, queries: Sequence[str],
                        hit_ids: np.ndarray, hit_scores: np.ndarray | None, _terms=None):
        """Per list: interest verdicts; per query: on-interest verdicts; per list: score."""
        n_queries = len(queries)
        rows = self._hit_rows(hit_ids, hit_scores) if n_queries else np.zeros((0, 1), np.int64)
        clusters = self._hit_clusters(rows)
        list_of = np.repeat(np.arange(len(users)), np.diff(bounds))
        owner, cols, _ = _terms if _terms is not None else self._term_table(queries)
        # the user's own terms named by each query
        names = np.zeros(n_queries, dtype=bool)
        known = cols >= 0
        if known.any() and len(self._user_pairs):
            user_of = np.asarray(users, dtype=np.int64)[list_of[owner[known]]]
            keys = user_of * self._n_terms + cols[known]
            place = np.searchsorted(self._user_pairs, keys)
            hit = (place < len(self._user_pairs)) & (
                self._user_pairs[np.minimum(place, len(self._user_pairs) - 1)] == keys)
            np.logical_or.at(names, owner[known], hit)
        covered_all, scores = [], np.zeros(len(users))
        on = np.zeros(n_queries, dtype=float)
        for i, user in enumerate(users):
            start, end = int(bounds[i]), int(bounds[i + 1])
            mine = self.interests(user)
            if end == start or not len(mine.clusters):
                covered_all.append(np.zeros(len(mine.clusters), dtype=bool))
                continue
            part = clusters[start:end]
            valid = part >= 0
            on_set = mine.clusters if mine.profile is None or self.on_min_share is None \
                else np.flatnonzero(mine.profile >= self.on_min_share)
            in_interest = np.isin(part, on_set) & valid
            n_valid = valid.sum(axis=1)
            by_hits = (n_valid > 0) & (in_interest.sum(axis=1)
                                       >= ON_INTEREST_SHARE * np.maximum(n_valid, 1))
            on[start:end] = (NAMES_WEIGHT * names[start:end] + HITS_WEIGHT * by_hits) / (
                NAMES_WEIGHT + HITS_WEIGHT)
            total = max(int(n_valid.sum()), 1)
            got = (part[valid][:, None] == mine.clusters[None, :]).sum(axis=0) / total
            covered = got >= COVER_SHARE * mine.signal_shares
            if COVER_NAMED:
                named = set(cols[known & np.isin(owner, np.arange(start, end))].tolist())
                covered &= np.array([bool(named & t) for t in mine.interest_terms], dtype=bool)
            covered_all.append(covered)
            scores[i] = coverage_score(mine.shares, covered, on[start:end].mean(), end - start)
        return covered_all, on, scores

    def score_lists(self, users: Sequence[int], query_lists: Sequence[Sequence[str]],
                    query_vectors: np.ndarray, hit_ids: np.ndarray,
                    hit_scores: np.ndarray | None = None) -> pd.DataFrame:
        """R_cov and R_spec of many lists at once (queries of all lists in order)."""
        bounds = np.cumsum([0] + [len(q) for q in query_lists])
        flat = [q for qs in query_lists for q in qs]
        terms = self._term_table(flat)
        covered, _, cov = self._coverage_batch(users, bounds, flat, hit_ids, hit_scores, terms)
        weights = np.array(list(SPEC_WEIGHTS.values()))
        checks = self.specificity_checks(flat, query_vectors, hit_ids, hit_scores, terms)
        per_query = checks @ weights / weights.sum()
        spec = np.zeros(len(query_lists))
        sizes = np.diff(bounds)
        nonempty = sizes > 0
        if len(flat):
            sums = np.add.reduceat(per_query, bounds[:-1][nonempty])
            spec[nonempty] = sums / sizes[nonempty]
        return pd.DataFrame({"cov": cov, "spec": spec,
                             "interests_covered": [int(c.sum()) for c in covered],
                             "interests": [len(c) for c in covered]})


class LLMJudge:
    """The same rubric asked of a Hugging Face causal LM, criterion by criterion.

    A criterion passes when the model's next-token probability of " yes" exceeds that of
    " no" after the question. Works with any ``AutoModelForCausalLM`` and its tokenizer;
    the interests it asks about are the rubric judge's inferred clusters (by name), so both
    judges grade the same items. "The queries address the user's interests" is one yes/no
    question for the whole list here (the rubric judge scores the share of queries).
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
        return coverage_score(mine.shares, passed[:-1], float(passed[-1]), len(queries))

    def specificity(self, queries: Sequence[str]) -> float:
        """R_spec by asking the model each specificity criterion for each query."""
        if not queries:
            return 0.0
        spec = [c for c in RUBRIC if c.reward == "spec"]
        weights = np.array([SPEC_WEIGHTS[c.name] for c in spec])
        prompts = [self._prompt([], [q], c.question.format(query=q)) for q in queries for c in spec]
        passed = self._passes(prompts).reshape(len(queries), len(spec))
        return float((passed @ weights / weights.sum()).mean())
