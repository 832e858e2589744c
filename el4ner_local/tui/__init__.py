"""The terminal annotator (`el4ner-local annotate`): a Textual app (`app`) in front of the annotation
state (`annotation_state.AnnotationState`), which `annotation_store.AnnotationStore` reads and saves.

Importing this package is cheap; Textual is imported by `app`.
"""
