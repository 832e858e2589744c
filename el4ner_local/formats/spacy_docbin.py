"""spaCy DocBin files (`.spacy`, what `spacy train` reads), through spaCy itself (the `spacy` extra).

Reading (a pool): each Doc is a sentence: its text, its non-whitespace tokens, and its `doc.ents` as
spans (`ent.start_char`, `ent.end_char`, `ent.label_`).

Writing: each text becomes a Doc whose words are the given tokens (tag: el4ner-local's tokenizer; an
export: the sentence's) and the whitespace between them, cut at every span end, so `doc.text` is the
text exactly (CRLF, tabs, emoji and all) and every span is an entity with the same character offsets.
Only spans that overlap another one are left out (`doc.ents` cannot overlap): counted, so the caller
can say so. `doc.user_data["el4ner_local"]` holds where the text comes from and, for the tagger's
suggestions, each entity's confidence and votes. A DocBin is one whole file: the Docs are held in
memory and the file is written when the writer is closed, atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from el4ner_local.documents import LabelledSentence, Span
from el4ner_local.errors import UserError
from el4ner_local.formats.optional import require
from el4ner_local.formats.tagged import OutText
from el4ner_local.formats.tokens import pieces, span_ends

USER_DATA_KEY = "el4ner_local"
_FIX = "give a .spacy file written by spaCy's DocBin.to_disk (or convert one with `python -m spacy convert`)"


def read_docbin(path: str | Path) -> list[LabelledSentence]:
    """Every Doc of a DocBin file with its entities. UserError naming the file and the fix if unreadable."""
    path = Path(path)
    require("spacy", f"reading {path} (a spaCy DocBin)")
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file", fix="check the path") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a .spacy file", fix="name a file inside it") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})", fix="check the path and its permissions") from None
    try:
        docs = list(DocBin().from_bytes(data).get_docs(Vocab()))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path}: not a spaCy DocBin ({str(exc).split('.')[0]})", fix=_FIX) from None
    if not docs:
        raise UserError(f"{path}: the DocBin holds no documents", fix=_FIX)
    return [
        LabelledSentence(
            text=doc.text,
            tokens=[(t.idx, t.idx + len(t.text)) for t in doc if not t.text.isspace()],
            spans=sorted(Span(e.start_char, e.end_char, e.label_) for e in doc.ents),
            source=f"{path}: doc {i}",
        )
        for i, doc in enumerate(docs, 1)
    ]


class DocBinWriter:
    """Collects one Doc per text; `close()` writes the DocBin to `path` atomically with file mode `mode`."""

    lost_reason = "left out: they overlap another entity (spaCy entities cannot overlap)"

    def __init__(self, path: Path, mode: int):
        require("spacy", f"writing {path} (a spaCy DocBin)")
        from spacy.tokens import DocBin
        from spacy.vocab import Vocab

        self.path, self.mode = Path(path), mode
        if self.path.is_dir():  # said before any work is done for it
            raise UserError(f"{path}: is a directory", fix="name a .spacy file")
        self.vocab = Vocab()
        self.docbin = DocBin(store_user_data=True)
        self.lost = 0

    def write(self, item: OutText) -> None:
        doc, lost = self.doc_of(item)
        self.docbin.add(doc)
        self.lost += lost

    def doc_of(self, item: OutText):
        from spacy.tokens import Doc

        text = item.text
        ends = span_ends(s.span for s in item.spans)
        starts_of_spans = {s.start for s in item.spans}
        ends_of_spans = {s.end for s in item.spans}
        words: list[str] = []
        spaces: list[bool] = []
        for start, end in pieces(text, item.token_offsets(), ends):
            piece = text[start:end]
            # a lone space after a word is that word's trailing space (as spaCy writes it), unless a span
            # begins with it or ends after it: then it must be a token of its own
            if (
                piece == " "
                and words
                and not words[-1].isspace()
                and not spaces[-1]
                and start not in starts_of_spans
                and end not in ends_of_spans
            ):
                spaces[-1] = True
                continue
            words.append(piece)
            spaces.append(False)
        doc = Doc(self.vocab, words=words, spaces=spaces)
        ents, lost, taken = [], 0, set[int]()
        for s in sorted(item.spans, key=lambda s: (s.start, -s.end, s.label)):
            ent = doc.char_span(s.start, s.end, label=s.label)  # always aligned: the words are cut at span ends
            if ent is None or taken & set(range(ent.start, ent.end)):
                lost += 1
                continue
            taken.update(range(ent.start, ent.end))
            ents.append(ent)
        doc.ents = sorted(ents, key=lambda e: e.start)
        user: dict[str, Any] = {"meta": dict(item.meta)}
        if item.predicted:
            user["entities"] = [
                {"start": s.start, "end": s.end, "label": s.label, "confidence": s.confidence, **(s.votes or {})}
                for s in sorted(item.spans, key=lambda s: (s.start, s.end))
            ]
        doc.user_data[USER_DATA_KEY] = user
        return doc, lost

    def close(self) -> None:
        from el4ner_local.durable import atomic_write

        atomic_write(self.path, self.docbin.to_bytes(), self.mode)
