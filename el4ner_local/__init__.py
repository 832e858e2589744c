"""el4ner-local: offline NER with an ensemble of small quantized LLMs (EL4NER).

from el4ner_local import Tagger
doc = Tagger.load(labels="person,location")("Ada Lovelace was born in London.")
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Tagger":  # imported lazily: the CLI must start fast
        from .pipeline.tagger import Tagger

        return Tagger
    raise AttributeError(name)
