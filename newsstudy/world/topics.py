"""Topics derived from the articles themselves.

Articles are clustered by their sentence embeddings (k-means, seeded), and each cluster
is described by the terms that distinguish it from the others (class-based TF-IDF, as in
BERTopic: a term's frequency in the cluster times log(1 + average cluster size in words
over the term's frequency in all clusters)). Nothing here is typed by hand except a short
list of news boilerplate words that are no topic's content ("said", "reuters", ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from threadpoolctl import threadpool_limits

BOILERPLATE = frozenset(
    """said says say told tell according reported report reports news image images photo
    photos copyright getty reuters ap afp tass xinhua cnn bbc rte dw abc huffpost
    huffington china daily aljazeera al jazeera mr mrs ms year years week weeks day days
    time times just like new also would could one two three first last people percent
    monday tuesday wednesday thursday friday saturday sunday january february march april
    december 2016 2017 video watch read follow twitter facebook share comments""".split()
)


@dataclass(frozen=True)
class Topics:
    """Topic structure over a corpus.

    Attributes:
        labels: cluster index per article (aligned with the articles frame).
        centroids: unit-norm centroid embedding per topic, shape (n_topics, dim).
        keywords: per topic, its most distinctive terms, best first.
        vocabulary: term strings, the columns of ``doc_terms``.
        doc_terms: binary article x term matrix (CSR): which terms each article contains.
        term_scores: topic x term class-based TF-IDF scores (dense).
    """

    labels: np.ndarray
    centroids: np.ndarray
    keywords: list[list[str]]
    vocabulary: np.ndarray
    doc_terms: sparse.csr_matrix
    term_scores: np.ndarray

    @property
    def n_topics(self) -> int:
        """Number of topics."""
        return len(self.keywords)

    def sizes(self) -> np.ndarray:
        """Articles per topic."""
        return np.bincount(self.labels, minlength=self.n_topics)


def topic_documents(articles: pd.DataFrame, body_chars: int = 1500) -> list[str]:
    """Per article, the text its terms are taken from: title, subtitle, opening body."""
    return [
        f"{t}. {s}. {b[:body_chars]}"
        for t, s, b in zip(articles["title"], articles["subtitle"], articles["text"], strict=True)
    ]


def build_topics(articles: pd.DataFrame, embeddings: np.ndarray, n_topics: int, seed: int,
                 n_keywords: int = 10) -> Topics:
    """Cluster articles into ``n_topics`` topics and describe each by its keywords."""
    if n_topics > len(articles):
        raise ValueError(f"n_topics ({n_topics}) exceeds the number of articles ({len(articles)})")
    labels = cluster_articles(embeddings, n_topics, seed)
    centroids = member_centroids(embeddings, labels, n_topics)

    vectorizer = CountVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | BOILERPLATE),
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z\-]{2,}\b",
        ngram_range=(1, 2), min_df=3, max_df=0.3, lowercase=True,
    )
    counts = vectorizer.fit_transform(topic_documents(articles)).tocsr()
    vocabulary = vectorizer.get_feature_names_out()
    term_scores = class_tfidf(counts, labels, n_topics)
    keywords = [list(vocabulary[np.argsort(-row)[:n_keywords]]) for row in term_scores]
    doc_terms = (counts > 0).astype(np.float32).tocsr()
    return Topics(labels, centroids, keywords, vocabulary, doc_terms, term_scores)


def cluster_articles(embeddings: np.ndarray, n_topics: int, seed: int) -> np.ndarray:
    """k-means labels (seeded), computed on one thread.

    scikit-learn's k-means sums its chunks in an order set by the OpenMP thread count, so
    labels near a boundary could flip between machines; on one thread the labels are a
    function of the embeddings and the seed alone (the corpus is a few thousand rows, so
    this costs about a second).
    """
    with threadpool_limits(limits=1):
        kmeans = KMeans(n_clusters=n_topics, n_init=4, random_state=seed)
        return kmeans.fit_predict(embeddings).astype(np.int64)


def member_centroids(embeddings: np.ndarray, labels: np.ndarray, n_topics: int) -> np.ndarray:
    """Unit-norm mean embedding of each topic's articles, summed in article order.

    Recomputed from the labels in float64 rather than read from k-means, whose centres
    carry its thread-dependent summation order into every later draw of the simulator.
    """
    sums = np.zeros((n_topics, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, embeddings.astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def class_tfidf(counts: sparse.csr_matrix, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Class-based TF-IDF (Grootendorst, BERTopic): rows are classes, columns terms."""
    membership = sparse.csr_matrix(
        (np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(n_classes, len(labels))
    )
    class_counts = np.asarray((membership @ counts).todense(), dtype=np.float64)
    term_freq = class_counts / np.maximum(class_counts.sum(axis=1, keepdims=True), 1.0)
    average_words = class_counts.sum() / n_classes
    idf = np.log1p(average_words / np.maximum(class_counts.sum(axis=0), 1.0))
    return term_freq * idf
