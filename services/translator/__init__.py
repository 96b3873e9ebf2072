"""The translator: ``TextExtracted`` in, the English title and text stored, ``ArticleTranslated`` out."""
