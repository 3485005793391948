"""Rubric judges for interest coverage (R_cov) and specificity (R_spec).

The paper scores coverage and specificity with an LLM judge following "Rubrics as Rewards"
(arXiv:2507.17746): explicit criteria with weights, score = sum(w * c) / sum(w). Two judges
share one rubric and one interface here:

- ``RubricJudge`` (default) decides each criterion by computation over what production
  sees: the user's *cleaned* signals (with their days), the completion, and the news index
  of history-window articles (the same index R_align searches). It never sees the latent
  interests, event labels or held-out clicks.
- ``LLMJudge`` renders the same criteria as yes/no questions for any Hugging Face causal LM
  and passes a criterion when the model puts more probability on " yes" than on " no".

What the rubric judge knows, all fitted from production data:

* its own clusters of the history articles (k-means on their embeddings, not the
  simulator's topics), and the cluster of every article;
* which words each article holds (its indexed text: title, subtitle, opening) and each
  word's document frequency: a word in under 2% of the articles (and in two or more) is
  *rare*, a name;
* *web boilerplate*: words at least 3 times more frequent in users' signals than in news
  articles, in at least 0.2% of the signals (site and page-type words: "wikipedia",
  "podcast", "thread", ...). They carry no content and are ignored everywhere;
* per user, from the cleaned signals the policy's prompt shows (its digest of the most recent
  distinct signals, every occurrence counted: ``newsstudy.policy.prompts.digest_events``),
  each weighted by recency (half-life
  ``recency_halflife_days``, 14 days): the *profile*, the cluster mix of the articles the
  signals retrieve (top-10 each, in the index); the *interests*, the clusters holding at
  least ``min_share`` of it (at most ``max_interests``, largest first, their shares
  renormalised to sum 1); the *own terms*, the content words seen in at least two of the
  user's signals, ranked by recency-weighted count times inverse user frequency (what this
  user names more than other users do), at most 40; and per interest, the own terms seen
  in the signals that retrieve mostly that cluster.

A query's *content words* are its lower-case words of 2+ characters that are neither
English stop words nor boilerplate; its *hits* are its top-10 articles in the index.

Rubric (weights in brackets):

R_cov, per list, on the articles the list retrieves (all its queries' hits):
  * for each interest i: "the list covers interest i: its hits give i at least half of
    i's share of the user's signals, and it names one of the user's own terms for i"
    [i's share; the interests' weights sum to 1]
  * "the queries address the user's interests" [3]: the share of the list's queries that
    do, where a query does when it names one of the user's own terms *and* at least half
    of its hits fall in clusters the user's signals reach (3% of the profile or more). The
    LLM judge answers this one yes/no for the whole list.
  A user without interests (no usable signal) and an empty list score 0.

R_spec, per query, averaged over the list. A query that is not coherent passes nothing:
  * coherent: "its words belong together: one of its hits holds at least half of its
    content words" [3]
  * "is coherent and has at least two content words" [1]
  * "is coherent and not a generic news query (e.g. 'latest news')" [2]
  * "is coherent and names something specific: a word that is rare in the corpus" [1]
  * "is coherent and between 2 and 10 words long" [1]

So a bag of unrelated words (incoherent), generic queries, bare single words, filler,
headlines about other people's news and lists that never name what the user follows all
score low on one rubric or the other, while every criterion stays something a production
judge can check with the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.cluster import KMeans

from newsstudy.text import GENERIC_QUERIES, content_words


@dataclass(frozen=True)
class Criterion:
    """One pass/fail rubric item."""

    reward: str
    name: str
    weight: str
    question: str


RUBRIC: tuple[Criterion, ...] = (
    Criterion("cov", "interest_i_addressed", "share of the user's signals in interest i",
              "Do the queries cover the user's interest in {interest}, naming something the "
              "user follows there and giving it at least half the weight it has in the "
              "user's history?"),
    Criterion("cov", "queries_on_interest", "3 (the share of queries that pass)",
              "Does every query address one of the interests shown in the user's history, "
              "naming something the user has searched, read or browsed?"),
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
ON_INTEREST_WEIGHT = 3.0
"""Weight of "the queries address the user's interests" beside the interests (sum 1)."""
ON_INTEREST_SHARE = 0.5
"""A query is on the user's interests when at least this share of its hits fall in the
clusters the user's signals reach (and it names one of the user's own terms)."""
REACH_SHARE = 0.03
"""A cluster is reached by the user's signals when it holds this share of their profile."""
COVER_SHARE = 0.5
"""Interest i is covered when the list's hits in it reach this fraction of i's share."""
RARE_DOC_FREQ = 0.02
BOILERPLATE_RATIO = 3.0
BOILERPLATE_MIN_SIGNAL_FREQ = 0.002
MAX_USER_TERMS = 40
MIN_TERM_SIGNALS = 2
MAX_QUERY_TERMS = 32
"""Content words looked at per query (a pathological query cannot blow up the work)."""
MIN_QUERY_WORDS, MAX_QUERY_WORDS = 2, 10


def rubric_table() -> pd.DataFrame:
    """The rubric as a table (reward, criterion, weight, question)."""
    return pd.DataFrame([c.__dict__ for c in RUBRIC])


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
    (they sum to 1); ``signal_shares``: each interest's share of the user's whole profile;
    ``terms``: the user's own terms, most telling first; ``interest_terms``: per interest,
    the own terms seen in its signals; ``profile``: the share of every cluster.
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


_NO_INTERESTS = UserInterests(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))


def _vocabulary(texts: Sequence[str]) -> tuple[dict[str, int], sparse.csr_matrix]:
    """Word -> column, and the binary (texts x words) matrix of which text holds which."""
    vocab: dict[str, int] = {}
    indptr, indices = [0], []
    for text in texts:
        cols = {vocab.setdefault(w, len(vocab)) for w in content_words(str(text))}
        indices.extend(sorted(cols))
        indptr.append(len(indices))
    matrix = sparse.csr_matrix((np.ones(len(indices), np.float32), np.array(indices, np.int64),
                                np.array(indptr, np.int64)), shape=(len(texts), max(len(vocab), 1)))
    return vocab, matrix


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` occur in the sorted array ``sorted_keys``."""
    if not len(sorted_keys):
        return np.zeros(np.shape(keys), dtype=bool)
    place = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[place] == keys


@dataclass
class RubricJudge:
    """Computes the rubric from the corpus, the index's hits and the users' signals.

    Args:
        centroids: unit-norm centroids of the judge's corpus clusters.
        cluster_names: a few keywords per cluster (for display and the LLM judge).
        rare_terms: corpus words in under 2% of the articles (and in two or more).
        generic_vectors: embeddings of generic news queries.
        article_ids: id of each corpus article (the ids the index returns).
        article_clusters: the judge's cluster of each article.
        article_vectors: unit vectors of the articles (to search when no hits are given).
        vocabulary: content word -> column of ``doc_terms``.
        doc_terms: binary (articles x words) matrix: which article holds which word.
        boilerplate: words ignored as web boilerplate (learnt by ``infer_interests``).
        min_similarity: without hits, a signal counts for its nearest cluster only above
            this cosine.
        min_share: an interest holds at least this share of the user's profile.
        max_interests: at most this many interests per user.
        generic_similarity: a query this close to a generic query is generic.
        recency_halflife_days: a signal's weight halves with every this many days of age
            (``None``: all signals weigh the same).
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
    recency_halflife_days: float | None = 14.0
    k: int = 10

    def __post_init__(self):
        self.centroids = np.asarray(self.centroids, dtype=np.float32)
        self.generic_vectors = np.asarray(self.generic_vectors, dtype=np.float32)
        if self.article_ids is None:
            self.article_ids = np.zeros(0, np.int64)
            self.article_clusters = np.zeros(0, np.int64)
        self.article_ids = np.asarray(self.article_ids, dtype=np.int64)
        self.article_clusters = np.asarray(self.article_clusters, dtype=np.int64)
        if self.doc_terms is None:
            self.doc_terms = sparse.csr_matrix((len(self.article_ids), 1), dtype=np.float32)
        size = int(self.article_ids.max()) + 1 if len(self.article_ids) else 0
        self._row_of_id = np.full(size + 1, -1, dtype=np.int64)  # last slot: any other id
        self._row_of_id[self.article_ids] = np.arange(len(self.article_ids))
        self._n_terms = max(len(self.vocabulary), 1)
        coo = self.doc_terms.tocoo()
        self._pairs = np.sort(coo.row.astype(np.int64) * self._n_terms + coo.col)
        self._words = np.empty(self._n_terms, dtype=object)
        for term, col in self.vocabulary.items():
            self._words[col] = term
        self._rare = np.zeros(self._n_terms, dtype=bool)
        for term in self.rare_terms:
            if term in self.vocabulary:
                self._rare[self.vocabulary[term]] = True
        self._index_users({})

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
        return cls.from_corpus(article_vectors, article_texts, labels, embedder,
                               article_ids=article_ids, centroids=centroids, **settings)

    @classmethod
    def from_corpus(cls, article_vectors: np.ndarray, article_texts: Sequence[str],
                    article_clusters: np.ndarray, embedder, article_ids: np.ndarray | None = None,
                    centroids: np.ndarray | None = None, **settings) -> RubricJudge:
        """A judge over a corpus whose articles are already clustered (``fit`` clusters)."""
        article_vectors = np.asarray(article_vectors, dtype=np.float32)
        labels = np.asarray(article_clusters, dtype=np.int64)
        n_clusters = int(labels.max()) + 1 if len(labels) else 0
        if centroids is None:
            centroids = np.stack([article_vectors[labels == c].mean(axis=0)
                                  for c in range(n_clusters)]).astype(np.float32)
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

    def learn_boilerplate(self, signal_texts: Sequence[str],
                          _words: Sequence[Sequence[str]] | None = None) -> frozenset[str]:
        """Words far more frequent in the signals than in the articles (site, page words)."""
        if not len(signal_texts) or not self.vocabulary:
            return self.boilerplate
        words = _words if _words is not None else [
            list(dict.fromkeys(content_words(str(t)))) for t in signal_texts]
        counts: dict[str, int] = {}
        for distinct in words:
            for word in distinct:
                counts[word] = counts.get(word, 0) + 1
        n_docs = max(self.doc_terms.shape[0], 1)
        doc_counts = np.asarray(self.doc_terms.sum(axis=0)).ravel()
        found = []
        for word, count in counts.items():
            signal_freq = count / len(signal_texts)
            col = self.vocabulary.get(word)
            article_freq = (doc_counts[col] if col is not None else 0.0) / n_docs
            if signal_freq >= BOILERPLATE_MIN_SIGNAL_FREQ and \
                    signal_freq >= BOILERPLATE_RATIO * (article_freq + 1.0 / n_docs):
                found.append(word)
        self.boilerplate = frozenset(found)
        return self.boilerplate

    # ------------------------------------------------------------------ hits
    def search(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, article ids) per row over the judge's own article vectors."""
        n, k = len(vectors), self.k
        scores = np.zeros((n, k), dtype=np.float32)
        ids = np.full((n, k), -1, dtype=np.int64)
        if self.article_vectors is None or not len(self.article_vectors) or not n:
            return scores, ids
        sims = np.asarray(vectors, dtype=np.float32) @ self.article_vectors.T
        found = min(k, sims.shape[1])
        top = np.argpartition(-sims, found - 1, axis=1)[:, :found]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        scores[:, :found] = np.take_along_axis(sims, top, axis=1)
        ids[:, :found] = self.article_ids[top]
        return scores, ids

    def _hit_rows(self, hit_ids: np.ndarray) -> np.ndarray:
        """Corpus row of every hit; -1 for a missing hit or an id the corpus lacks."""
        hit_ids = np.asarray(hit_ids, dtype=np.int64)
        if hit_ids.ndim != 2:
            hit_ids = hit_ids.reshape(len(hit_ids), -1)
        known = (hit_ids >= 0) & (hit_ids < len(self._row_of_id) - 1)
        return self._row_of_id[np.where(known, hit_ids, len(self._row_of_id) - 1)]

    def _hit_clusters(self, hit_rows: np.ndarray) -> np.ndarray:
        if not len(self.article_clusters):
            return np.full(hit_rows.shape, -1, np.int64)
        return np.where(hit_rows >= 0, self.article_clusters[np.maximum(hit_rows, 0)], -1)

    def _hits_or_search(self, query_vectors, hit_ids):
        if hit_ids is None:
            _, hit_ids = self.search(np.asarray(query_vectors, dtype=np.float32))
        return np.asarray(hit_ids)

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
                        signal_ages: np.ndarray | None = None) -> None:
        """Infer every user's profile, interests and own terms from their cleaned signals.

        One row per signal. ``hit_ids``: each signal's hits in the index (the judge
        searches its own article vectors when not given; without any, a signal counts for
        its nearest cluster). ``signal_texts`` give the boilerplate and the own terms;
        ``signal_ages`` (days before the test window) the recency weights.
        """
        signal_users = np.asarray(signal_users, dtype=np.int64)
        signal_vectors = np.asarray(signal_vectors, dtype=np.float32)
        n_clusters = len(self.centroids)
        weights = np.ones(len(signal_users))
        if signal_ages is not None and self.recency_halflife_days:
            weights = np.exp2(-np.maximum(np.asarray(signal_ages, float), 0.0)
                              / self.recency_halflife_days)
        words = None
        if signal_texts is not None:
            which, texts = pd.factorize(pd.Series([str(t) for t in signal_texts], dtype=object))
            distinct = [list(dict.fromkeys(content_words(t))) for t in texts]
            words = [distinct[i] for i in which]
            self.learn_boilerplate(signal_texts, words)
            distinct = [[w for w in ws if w not in self.boilerplate][:MAX_QUERY_TERMS]
                        for ws in distinct]
            words = [distinct[i] for i in which]
        if hit_ids is None and self.article_vectors is not None and len(self.article_ids):
            _, hit_ids = self.search(signal_vectors)
        if hit_ids is not None and len(self.article_clusters) and len(signal_users):
            clusters = self._hit_clusters(self._hit_rows(hit_ids))
            votes = np.zeros((len(clusters), n_clusters + 1))
            rows = np.repeat(np.arange(len(clusters)), clusters.shape[1])
            np.add.at(votes, (rows, np.where(clusters >= 0, clusters, n_clusters).ravel()), 1.0)
            votes = votes[:, :n_clusters]
            signal_cluster = np.where(votes.max(axis=1) > 0, votes.argmax(axis=1), -1)
        else:
            signal_cluster = self.assign(signal_vectors)
            votes = np.zeros((len(signal_users), n_clusters))
            valid = signal_cluster >= 0
            votes[np.flatnonzero(valid), signal_cluster[valid]] = 1.0
        users, user_index = np.unique(signal_users, return_inverse=True)
        profile = np.zeros((len(users), n_clusters))
        np.add.at(profile, user_index, votes * weights[:, None])
        totals = profile.sum(axis=1, keepdims=True)
        profile = np.divide(profile, totals, out=np.zeros_like(profile), where=totals > 0)
        width = max(min(self.max_interests, n_clusters), 1)
        order = np.argsort(-profile, axis=1, kind="stable")[:, :width]
        top = np.take_along_axis(profile, order, axis=1)
        keep = (top >= max(self.min_share, 1e-12)) & (top > 0)
        self._users = {int(u): row for row, u in enumerate(users.tolist())}
        self._profile = np.vstack([profile, np.zeros((1, n_clusters))]).astype(np.float32)
        self._int_clusters = np.full((len(users) + 1, width), -1, dtype=np.int64)
        self._int_clusters[:-1] = np.where(keep, order, -1)
        self._int_signal = np.zeros((len(users) + 1, width))
        self._int_signal[:-1] = np.where(keep, top, 0.0)
        sums = self._int_signal.sum(axis=1, keepdims=True)
        self._int_shares = np.divide(self._int_signal, sums,
                                     out=np.zeros_like(self._int_signal), where=sums > 0)
        self._own_terms(len(users), user_index, signal_cluster, words, weights)

    def _own_terms(self, n_users, user_index, signal_cluster, words, weights) -> None:
        """The users' own terms (most telling first) and, per interest, those seen in it."""
        width, n_clusters = self._int_clusters.shape[1], len(self.centroids)
        self._terms_of: dict[int, tuple[str, ...]] = {}
        self._own_keys = self._int_keys = np.zeros(0, np.int64)
        if words is None:
            return
        lengths = np.array([len(w) for w in words], dtype=np.int64)
        flat = [w for distinct in words for w in distinct]
        cols = np.array([self.vocabulary.get(w, -1) for w in flat], dtype=np.int64)
        rows = np.repeat(user_index, lengths)
        cluster = np.repeat(signal_cluster, lengths)
        weight = np.repeat(weights, lengths)
        known = cols >= 0
        rows, cols, cluster, weight = rows[known], cols[known], cluster[known], weight[known]
        if not len(cols):
            return
        frame = pd.DataFrame({"row": rows, "term": cols, "weight": weight})
        counts = frame.groupby(["row", "term"])["weight"].agg(["size", "sum"]).reset_index()
        users_with = counts.groupby("term")["row"].transform("size")
        counts["score"] = counts["sum"] * np.log(max(n_users, 1) / users_with)
        counts = counts[counts["size"] >= MIN_TERM_SIGNALS]
        counts = counts.sort_values(["row", "score", "term"], ascending=[True, False, True],
                                    kind="stable")
        counts = counts.groupby("row", sort=False).head(MAX_USER_TERMS)
        own_rows, own_cols = counts["row"].to_numpy(), counts["term"].to_numpy()
        self._own_keys = np.unique(own_rows * self._n_terms + own_cols)
        cuts = np.flatnonzero(np.diff(own_rows)) + 1
        for chunk_rows, chunk_cols in zip(np.split(own_rows, cuts), np.split(own_cols, cuts),
                                          strict=True):
            if len(chunk_rows):
                self._terms_of[int(chunk_rows[0])] = tuple(self._words[chunk_cols].tolist())
        # the own terms seen in signals that retrieve mostly an interest's cluster
        slot_of = np.full((n_users + 1, n_clusters + 1), -1, dtype=np.int64)
        r, m = np.nonzero(self._int_clusters >= 0)
        slot_of[r, self._int_clusters[r, m]] = m
        slot = slot_of[rows, np.where(cluster >= 0, cluster, n_clusters)]
        own = np.isin(rows * self._n_terms + cols, self._own_keys)
        sel = (slot >= 0) & own
        self._int_keys = np.unique((rows[sel] * width + slot[sel]) * self._n_terms + cols[sel])

    def _index_users(self, interests: dict[int, UserInterests]) -> None:
        """Dense per-user arrays from explicit interests (tests, a judge without signals)."""
        n, width, n_clusters = len(interests), max(self.max_interests, 1), len(self.centroids)
        self._users = {int(user): row for row, user in enumerate(interests)}
        self._profile = np.zeros((n + 1, n_clusters), dtype=np.float32)
        self._int_clusters = np.full((n + 1, width), -1, dtype=np.int64)
        self._int_shares = np.zeros((n + 1, width))
        self._int_signal = np.zeros((n + 1, width))
        self._terms_of = {}
        own_keys, int_keys = [], []
        for row, mine in enumerate(interests.values()):
            if mine.profile is not None:
                self._profile[row] = mine.profile
            m = min(len(mine.clusters), width)
            self._int_clusters[row, :m] = mine.clusters[:m]
            self._int_shares[row, :m] = mine.shares[:m]
            self._int_signal[row, :m] = mine.signal_shares[:m]
            self._terms_of[row] = tuple(mine.terms)
            own_keys += [row * self._n_terms + self.vocabulary[t] for t in mine.terms
                         if t in self.vocabulary]
            for slot, terms in enumerate(mine.interest_terms[:m]):
                int_keys += [(row * width + slot) * self._n_terms + self.vocabulary[t]
                             for t in terms if t in self.vocabulary]
        self._own_keys = np.unique(np.array(own_keys, dtype=np.int64))
        self._int_keys = np.unique(np.array(int_keys, dtype=np.int64))

    def interests(self, user: int) -> UserInterests:
        """The judge's inferred interests of a user (empty if it saw no usable signal)."""
        row = self._users.get(int(user))
        if row is None:
            return _NO_INTERESTS
        slots = np.flatnonzero(self._int_clusters[row] >= 0)
        width = self._int_clusters.shape[1]
        lo, hi = np.searchsorted(self._int_keys, [row * width * self._n_terms,
                                                  (row + 1) * width * self._n_terms])
        mine = self._int_keys[lo:hi] - row * width * self._n_terms
        per_slot = tuple(frozenset(self._words[mine[mine // self._n_terms == s]
                                               % self._n_terms].tolist()) for s in slots)
        return UserInterests(self._int_clusters[row, slots].copy(),
                             self._int_shares[row, slots].copy(),
                             self._int_signal[row, slots].copy(),
                             self._terms_of.get(row, ()), per_slot,
                             self._profile[row].copy())

    # ------------------------------------------------------------------ rubric, batched
    def _term_table(self, queries: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query index, word column or -1) per content word, and content words per query."""
        owner, cols, n_terms = [], [], np.zeros(len(queries), dtype=np.int64)
        for row, query in enumerate(queries):
            words = self.query_terms(query)
            n_terms[row] = len(words)
            owner.extend([row] * len(words))
            cols.extend(self.vocabulary.get(w, -1) for w in words)
        return np.array(owner, np.int64), np.array(cols, np.int64), n_terms

    def specificity_checks(self, queries: Sequence[str], query_vectors: np.ndarray,
                           hit_ids: np.ndarray | None = None, hit_scores=None,
                           _terms=None) -> np.ndarray:
        """Pass/fail matrix (queries x SPEC_WEIGHTS criteria) for the specificity rubric.

        ``hit_ids``: each query's hits (queries x k) in the index; the judge searches its
        own article vectors when they are not given. (``hit_scores`` is accepted for
        symmetry with the index's output and not used.)
        """
        checks = np.zeros((len(queries), len(SPEC_WEIGHTS)), dtype=bool)
        if len(queries) == 0:
            return checks
        query_vectors = np.asarray(query_vectors, dtype=np.float32)
        rows = self._hit_rows(self._hits_or_search(query_vectors, hit_ids))
        owner, cols, n_terms = _terms if _terms is not None else self._term_table(queries)
        per_hit = np.zeros((len(queries), max(rows.shape[1], 1)), dtype=np.int64)
        known = cols >= 0
        if known.any() and rows.shape[1]:
            hit_rows = rows[owner[known]]  # (known words x k)
            keys = hit_rows * self._n_terms + cols[known][:, None]
            found = (hit_rows >= 0) & _member(self._pairs, keys)
            np.add.at(per_hit, owner[known], found.astype(np.int64))
        coherent = (n_terms >= 1) & (per_hit.max(axis=1) >= np.ceil(n_terms / 2))
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
        checks[:, 4] = coherent & (n_words >= MIN_QUERY_WORDS) & (n_words <= MAX_QUERY_WORDS)
        return checks

    def specificity(self, queries: Sequence[str], query_vectors: np.ndarray,
                    hit_ids: np.ndarray | None = None, hit_scores=None) -> float:
        """R_spec: mean over queries of the weighted share of passed criteria."""
        if len(queries) == 0:
            return 0.0
        weights = np.array(list(SPEC_WEIGHTS.values()))
        checks = self.specificity_checks(queries, query_vectors, hit_ids)
        return float((checks @ weights / weights.sum()).mean())

    def coverage_checks(self, user: int, queries: Sequence[str], query_vectors: np.ndarray,
                        hit_ids: np.ndarray | None = None, hit_scores=None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """R_cov's verdicts for one list: (covered, per interest of the user; on the
        user's interests, per query)."""
        hit_ids = self._hits_or_search(query_vectors, hit_ids)
        covered, on, _ = self._coverage_batch([user], np.array([0, len(queries)]), queries,
                                              hit_ids)
        return covered[0, : len(self.interests(user).clusters)], on

    def coverage(self, user: int, queries: Sequence[str], query_vectors: np.ndarray,
                 hit_ids: np.ndarray | None = None, hit_scores=None) -> tuple[float, dict]:
        """R_cov for one list, and how many of the user's interests it covers."""
        mine = self.interests(user)
        covered, on = self.coverage_checks(user, queries, query_vectors, hit_ids)
        score = coverage_score(mine.shares, covered, on.mean() if len(on) else 0.0, len(queries))
        return score, {"interests_covered": int(covered.sum()), "interests": len(mine.clusters)}

    def _coverage_batch(self, users: Sequence[int], bounds: np.ndarray, queries: Sequence[str],
                        hit_ids: np.ndarray, _terms=None):
        """(covered: lists x max_interests, on: per query, score: per list)."""
        n_lists, n_queries = len(users), len(queries)
        width = self._int_clusters.shape[1]
        user_rows = np.array([self._users.get(int(u), len(self._users)) for u in users],
                             dtype=np.int64)
        sizes = np.diff(bounds)
        list_of = np.repeat(np.arange(n_lists), sizes)
        row_of = user_rows[list_of]  # user row per query
        if n_queries:
            clusters = self._hit_clusters(self._hit_rows(hit_ids))
        else:
            clusters = np.zeros((0, 1), np.int64)
        valid = clusters >= 0
        safe = np.maximum(clusters, 0)
        owner, cols, _ = _terms if _terms is not None else self._term_table(queries)
        known = cols >= 0
        # per query: names one of the user's own terms, and its hits fall where the user reaches
        names = np.zeros(n_queries, dtype=bool)
        if known.any():
            keys = row_of[owner[known]] * self._n_terms + cols[known]
            np.logical_or.at(names, owner[known], _member(self._own_keys, keys))
        reached = (self._profile[row_of[:, None], safe] >= REACH_SHARE) & valid
        n_valid = valid.sum(axis=1)
        by_hits = (n_valid > 0) & (reached.sum(axis=1) >= ON_INTEREST_SHARE * n_valid)
        on = names & by_hits
        # per list and interest: its share of the list's hits, and a term of it named
        counts = np.zeros((n_lists, len(self.centroids) + 1))
        hit_list = np.repeat(list_of, clusters.shape[1])
        np.add.at(counts, (hit_list, np.where(valid, clusters, len(self.centroids)).ravel()), 1.0)
        counts = counts[:, : len(self.centroids)]
        total = np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        slots = self._int_clusters[user_rows]
        got = np.take_along_axis(counts, np.maximum(slots, 0), axis=1) / total
        named = np.zeros((n_lists, width), dtype=bool)
        if known.any():
            term_rows = row_of[owner[known]]
            keys = ((term_rows[:, None] * width + np.arange(width)[None, :]) * self._n_terms
                    + cols[known][:, None])
            np.logical_or.at(named, list_of[owner[known]], _member(self._int_keys, keys))
        covered = (slots >= 0) & named & (got >= COVER_SHARE * self._int_signal[user_rows])
        on_share = np.zeros(n_lists)
        nonempty = sizes > 0
        if n_queries:
            on_share[nonempty] = np.add.reduceat(on.astype(float), bounds[:-1][nonempty]) \
                / sizes[nonempty]
        shares = self._int_shares[user_rows]
        has = nonempty & (shares.sum(axis=1) > 0)
        scores = np.where(has, ((shares * covered).sum(axis=1) + ON_INTEREST_WEIGHT * on_share)
                          / (shares.sum(axis=1) + ON_INTEREST_WEIGHT), 0.0)
        return covered, on, scores

    def score_lists(self, users: Sequence[int], query_lists: Sequence[Sequence[str]],
                    query_vectors: np.ndarray, hit_ids: np.ndarray,
                    hit_scores: np.ndarray | None = None) -> pd.DataFrame:
        """R_cov and R_spec of many lists at once (the queries of all lists, in order)."""
        bounds = np.cumsum([0] + [len(q) for q in query_lists])
        flat = [q for qs in query_lists for q in qs]
        terms = self._term_table(flat)
        covered, _, cov = self._coverage_batch(users, bounds, flat, hit_ids, terms)
        weights = np.array(list(SPEC_WEIGHTS.values()))
        checks = self.specificity_checks(flat, query_vectors, hit_ids, _terms=terms)
        per_query = checks @ weights / weights.sum()
        spec = np.zeros(len(query_lists))
        sizes = np.diff(bounds)
        nonempty = sizes > 0
        if len(flat):
            spec[nonempty] = np.add.reduceat(per_query, bounds[:-1][nonempty]) / sizes[nonempty]
        return pd.DataFrame({"cov": cov, "spec": spec,
                             "interests_covered": covered.sum(axis=1).astype(int),
                             "interests": (self._int_clusters[[self._users.get(
                                 int(u), len(self._users)) for u in users]] >= 0
                                 ).sum(axis=1).astype(int)})


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
