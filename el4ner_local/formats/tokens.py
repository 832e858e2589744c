"""Character spans on tokens, for the formats that are token-based: offsets stay exact, so a span is
written on tokens only when its ends are token ends, never moved to the nearest ones.

- CoNLL and Hugging Face datasets keep the tokens they are given (`aligned_bio`): a span that cuts a
  token, or overlaps another span, is left out and counted so that the writer can say so.
- spaCy DocBin and Prodigy tasks carry their own tokens, so theirs are cut at the span ends
  (`split_at`): every span is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from el4ner_local.documents import Span

Token = tuple[int, int]


def aligned_bio(tokens: Sequence[Token], spans: Iterable[Span]) -> tuple[list[str], int]:
    """BIO tags for `tokens` and how many spans they could not hold: a span is tagged only when it
    starts at a token's start and ends at a token's end, and overlaps no span tagged before it (in
    order of start, then longest first)."""
    starts = {start: i for i, (start, _) in enumerate(tokens)}
    ends = {end: i for i, (_, end) in enumerate(tokens)}
    tags = ["O"] * len(tokens)
    lost = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end, s.label)):
        first, last = starts.get(span.start), ends.get(span.end)
        if first is None or last is None or last < first or any(t != "O" for t in tags[first : last + 1]):
            lost += 1
            continue
        tags[first] = f"B-{span.label}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{span.label}"
    return tags, lost


def split_at(tokens: Sequence[Token], cuts: Iterable[int]) -> list[Token]:
    """`tokens` with every token that a cut falls strictly inside split there."""
    cuts = sorted(set(cuts))
    out: list[Token] = []
    for start, end in tokens:
        pos = start
        for cut in cuts:
            if pos < cut < end:
                out.append((pos, cut))
                pos = cut
        out.append((pos, end))
    return out


def pieces(text: str, tokens: Sequence[Token], cuts: Iterable[int]) -> list[Token]:
    """The whole of `text` as consecutive pieces: the tokens and the gaps between them (whitespace),
    each cut at every offset in `cuts`. Joined, the pieces are the text again."""
    cover: list[Token] = []
    pos = 0
    for start, end in sorted(tokens):
        if start > pos:
            cover.append((pos, start))
        cover.append((start, end))
        pos = end
    if pos < len(text):
        cover.append((pos, len(text)))
    return split_at(cover, cuts)


def span_ends(spans: Iterable[Span]) -> set[int]:
    return {offset for span in spans for offset in (span.start, span.end)}
