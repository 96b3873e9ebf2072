"""The work of each stage (fetch, decode, extract, translate, analyze): no broker, no database."""
