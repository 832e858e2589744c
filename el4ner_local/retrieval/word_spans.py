"""Candidate spans for retrieval without a model: runs of name-like or noun-like words.

EL4NER's stage 1 asks every model for the sentence's spans zero-shot, only to find demonstrations
by SpanSim. That costs each model a pass over the sentence and a generated answer before the real
work starts. This proposer reads the same word classes as the POS weights (pos_weights.py: shape
and closed word lists, no tagger) and proposes each maximal run of proper-noun-like words and each
maximal run of other content words: "the Eiffel Tower in Paris" -> "Eiffel Tower", "Paris";
"patients with breast cancer" -> "patients", "breast cancer". Stopwords, pronouns, numbers and
punctuation end a run. A capitalised sentence-initial word joins the class of the word after it
("Barack Obama" is one name, "Breast cancer" one noun phrase). The proposals are noisy (verbs
count as content words); SpanSim's weights favour the name-like ones.
"""

from __future__ import annotations

from .pos_weights import word_class

CONTENT = ("proper", "common")


def word_spans(text: str, tokens: list[tuple[int, int]], base: int = 0, max_words: int = 4) -> list[str]:
    """Distinct candidate span texts of `text`, in order; `tokens` are offsets into the document,
    `base` is where `text` starts in it. Runs longer than `max_words` are cut into pieces."""
    words: list[tuple[int, int, str]] = []  # (start, end, class), offsets into text
    for s, e in ((s - base, e - base) for s, e in tokens):
        prev = words[-1] if words else None
        if prev and prev[1] == s and text[prev[0] : prev[1]] in ("@", "#"):  # @mention, #hashtag
            words[-1] = (prev[0], e, "proper")
            continue
        words.append((s, e, word_class(text[s:e], sentence_initial=not words)))
    if len(words) > 1 and words[0][2] == "common" and text[words[0][0]].isupper() and words[1][2] in CONTENT:
        words[0] = (words[0][0], words[0][1], words[1][2])
    out: dict[str, None] = {}
    run: list[tuple[int, int, str]] = []

    def flush() -> None:
        for i in range(0, len(run), max_words):
            piece = run[i : i + max_words]
            out.setdefault(text[piece[0][0] : piece[-1][1]])
        run.clear()

    for word in words:
        if run and word[2] != run[-1][2]:
            flush()
        if word[2] in CONTENT:
            run.append(word)
        else:
            flush()
    flush()
    return list(out)
