"""el4ner-local: offline NER with an ensemble of small quantized LLMs (EL4NER)."""

__version__ = "0.1.0"
