"""The notifier: ``ArticleAnalyzed`` in; each alert rule the article matches gets its signed
webhook, once per (rule, article) across every replica."""
