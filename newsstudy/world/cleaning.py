"""Data cleaning: a light classifier that drops malformed and irrelevant events.

The paper cleans behaviour with a small RoBERTa classifier. On two CPU cores we use a
linear model (logistic regression, scikit-learn) over hashed character n-grams of the
event text, the event's domain, simple shape features (length, share of letters), and
one *context* feature: how many of the event's content words the same user also used in
other events. Navigational and malformed events are recognisable from their text;
off-interest events are clean text, recognisable only by not fitting the user's other
behaviour, which is what the context feature measures.

The classifier trains on the labelled events of training users and is scored on held-out
users. It returns a noise probability per event; an event is kept when that is below the
threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score
from threadpoolctl import threadpool_limits

from newsstudy.world import DOMAINS

_WORD = re.compile(r"[a-z][a-z\-]{2,}")


@dataclass
class CleaningModel:
    """A fitted cleaner: the vectoriser settings and the logistic-regression weights."""

    classifier: LogisticRegression
    threshold: float = 0.5
    n_features: int = 2**18

    def vectorizer(self) -> HashingVectorizer:
        """The (stateless) text featuriser."""
        return HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4),
                                 n_features=self.n_features, alternate_sign=False, norm="l2")

    def noise_probability(self, events: pd.DataFrame) -> np.ndarray:
        """Probability that each event is noise: ``predict_proba(features(events))``, bit
        for bit, without building the design matrix.

        The classifier is linear, so its decision is a sum over the design's columns: the
        hashed n-grams read only the event's text, and are summed once per distinct text
        of all the events (4.2 million events of the A/B world have 0.4 million texts);
        the dense columns, whose context feature reads the user's other events, are added
        over chunks of whole users, which bounds memory. The sum runs in the design's
        column order, as the sparse product does, so chunking and the split change no
        value.
        """
        weights = self.classifier.coef_.ravel()
        text_weights, dense_weights = weights[: self.n_features], weights[self.n_features:]
        codes, texts = distinct_texts(events)
        vectorizer = self.vectorizer()
        text_part = np.zeros(len(texts))
        for start in range(0, len(texts), TEXTS_PER_CHUNK):
            text_part[start: start + TEXTS_PER_CHUNK] = vectorizer.transform(
                texts[start: start + TEXTS_PER_CHUNK]) @ text_weights
        length, letters = text_shape(texts)
        decision = text_part[codes]
        for rows in user_chunks(events):
            dense = shape_features(events.iloc[rows], shape=(length[codes[rows]],
                                                             letters[codes[rows]]))
            part = decision[rows]
            for column, weight in zip((dense * DENSE_SCALE).T, dense_weights, strict=True):
                part = part + column * weight
            decision[rows] = part
        return expit(decision + self.classifier.intercept_[0])

    def keep(self, events: pd.DataFrame) -> np.ndarray:
        """Boolean mask of events to keep (predicted clean)."""
        return self.noise_probability(events) < self.threshold


def content_words(text: str) -> set[str]:
    """Lower-case content words (3+ letters, not stop words) of a text."""
    return {w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS}


CHUNK_USERS = 5_000
"""Users whose events are featurised at once (bounds the memory of the cleaner)."""

TEXTS_PER_CHUNK = 100_000
"""Distinct texts whose n-grams are hashed at once (bounds the memory of the cleaner)."""

DENSE_SCALE = 3.0
"""The dense features' scale in the design matrix (beside l2-normalised n-gram counts)."""


def user_chunks(events: pd.DataFrame, chunk_users: int | None = None) -> list[np.ndarray]:
    """Row positions of ``events``, grouped into chunks of at most ``chunk_users`` whole users
    (:data:`CHUNK_USERS` by default; each chunk in the frame's row order)."""
    chunk_users = CHUNK_USERS if chunk_users is None else chunk_users
    users = events["user_id"].to_numpy()
    unique = np.unique(users)
    return [np.flatnonzero(np.isin(users, unique[start:start + chunk_users]))
            for start in range(0, len(unique), chunk_users)]


def context_support_by_chunks(events: pd.DataFrame) -> np.ndarray:
    """:func:`context_support` of every event, computed over chunks of whole users."""
    out = np.zeros(len(events))
    for rows in user_chunks(events):
        out[rows] = context_support(events.iloc[rows])
    return out


def distinct_texts(events: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """``(codes, texts)``: the distinct event texts (as strings) and, per event, the
    position of its text among them. A history repeats its searches and its clicked
    titles (4.2 million events of the A/B world have 0.4 million distinct texts), and
    every per-text feature is the same for a repeated text, so each is computed once per
    distinct text and gathered by ``codes``."""
    codes, texts = pd.factorize(events["text"].astype(str), use_na_sentinel=False)
    return codes, texts


def context_support(events: pd.DataFrame) -> np.ndarray:
    """Per event, the share of its content words that occur in the user's other events.

    0 for events without content words. Computed per user over the history window.
    """
    codes, texts = distinct_texts(events)
    words = pd.Series([sorted(content_words(text)) for text in texts],
                      dtype=object).to_numpy()[codes]
    exploded = pd.DataFrame({"row": np.arange(len(events)), "user": events["user_id"].to_numpy(),
                             "word": words}).explode("word").dropna(subset=["word"])
    if exploded.empty:
        return np.zeros(len(events))
    per_user = exploded.groupby(["user", "word"])["row"].transform("size")
    support = (per_user > 1).groupby(exploded["row"]).mean()
    out = np.zeros(len(events))
    out[support.index.to_numpy(dtype=np.int64)] = support.to_numpy()
    return out


def text_shape(texts: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Each text's length and its number of letters and spaces."""
    text = pd.Series(texts, dtype=object)
    return (text.str.len().to_numpy(dtype=float),
            text.str.count(r"[A-Za-z ]").to_numpy(dtype=float))


def shape_features(events: pd.DataFrame, context: np.ndarray | None = None,
                   shape: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Dense per-event features: domain one-hot, length, letter share, context support
    (``context``: precomputed :func:`context_support` of these rows, else computed here;
    ``shape``: precomputed :func:`text_shape` of these rows' texts, likewise)."""
    if shape is None:
        codes, texts = distinct_texts(events)
        length, letters = (values[codes] for values in text_shape(texts))
    else:
        length, letters = shape
    domain = pd.Categorical(events["domain"], categories=DOMAINS).codes
    return np.column_stack([
        np.eye(len(DOMAINS))[domain],
        np.log1p(length) / 5.0,
        letters / np.maximum(length, 1.0),
        (length < 4).astype(float),
        context_support(events) if context is None else context,
    ])


def features(events: pd.DataFrame, vectorizer: HashingVectorizer,
             context: np.ndarray | None = None) -> sparse.csr_matrix:
    """The classifier's design matrix: hashed character n-grams plus shape features.

    ``events`` must hold whole users (the context feature reads a user's other events),
    unless ``context`` gives each row's context support.
    """
    codes, texts = distinct_texts(events)
    text = vectorizer.transform(texts)[codes]  # each row reads only its own text
    dense = shape_features(events, context) * DENSE_SCALE
    return sparse.hstack([text, sparse.csr_matrix(dense)]).tocsr()


def fit_cleaner(events: pd.DataFrame, is_noise: np.ndarray, seed: int,
                threshold: float = 0.5, max_events: int = 50_000) -> CleaningModel:
    """Fit the cleaner on labelled events (a seeded sample of at most ``max_events``).

    The context feature reads each user's whole history (computed over chunks of whole
    users); the text features only for the sampled rows. The fit runs on one BLAS thread:
    on two, its weights differed in the fifth digit, so the world would depend on the
    machine.
    """
    model = CleaningModel(
        LogisticRegression(C=4.0, solver="liblinear", max_iter=500, random_state=seed),
        threshold=threshold)
    labels = np.asarray(is_noise, dtype=int)
    rows = np.arange(len(labels))
    if len(labels) > max_events:
        rows = np.random.default_rng(seed).choice(len(labels), max_events, replace=False)
    context = context_support_by_chunks(events)[rows]
    design = features(events.iloc[rows], model.vectorizer(), context=context)
    labels = labels[rows]
    with threadpool_limits(limits=1):  # liblinear's solution moves with the BLAS thread count
        model.classifier.fit(design, labels)
    return model


def rule_baseline(events: pd.DataFrame) -> np.ndarray:
    """A trivial cleaner to beat: flag very short texts and texts that are under 80% letters."""
    text = events["text"].astype(str)
    letters = text.str.count(r"[A-Za-z ]") / text.str.len().clip(lower=1)
    return ((text.str.len() < 4) | (letters < 0.8)).to_numpy()


def cleaning_scores(is_noise: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of flagging noise, plus the share of events flagged."""
    is_noise = np.asarray(is_noise, dtype=bool)
    flagged = np.asarray(flagged, dtype=bool)
    return {
        "precision": float(precision_score(is_noise, flagged, zero_division=0)),
        "recall": float(recall_score(is_noise, flagged, zero_division=0)),
        "f1": float(f1_score(is_noise, flagged, zero_division=0)),
        "flagged_share": float(flagged.mean()) if len(flagged) else 0.0,
    }


def recall_by_kind(noise_kind: pd.Series, flagged: np.ndarray) -> pd.Series:
    """Share of events of each noise kind that were flagged (for 'none': false alarms)."""
    frame = pd.DataFrame({"kind": noise_kind.astype(str).to_numpy(), "flagged": flagged})
    return frame.groupby("kind")["flagged"].mean()


def confusion(is_noise: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    """2x2 confusion matrix with labelled rows (truth) and columns (prediction)."""
    matrix = confusion_matrix(np.asarray(is_noise, bool), np.asarray(flagged, bool),
                              labels=[False, True])
    return pd.DataFrame(matrix, index=["true clean", "true noise"],
                        columns=["kept", "dropped"])
