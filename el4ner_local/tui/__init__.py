"""The terminal annotator (`el4ner-local annotate`): a Textual app in front of `session.Session`.

Importing this package is cheap; Textual is imported by `app`.
"""
