"""The analyzer: ``ArticleTranslated`` in; symbols, keywords, category, similar articles and
the AI impact analysis stored; the article is ``analyzed``."""
