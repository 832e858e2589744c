"""blocks.iter_blocks: blocks tile the input and cut an over-long line only inside itself."""

from __future__ import annotations

from el4ner_local.tagging.blocks import iter_blocks, lines_of

LONG = ("Barack Obama met Angela Merkel in Berlin. " * 18).rstrip() + "\n"  # one line of 755 characters


def test_an_over_long_line_after_held_text_starts_its_own_block_and_keeps_its_words_whole():
    text = "a" * 498 + "\n" + LONG
    blocks = list(iter_blocks(lines_of(text)))
    assert "".join(b.text for b in blocks) == text
    assert [b.start for b in blocks] == [0] + [sum(len(b.text) for b in blocks[:i]) for i in range(1, len(blocks))]
    assert blocks[0].text == "a" * 498 + "\n"  # ended at the line end, not one letter into the next line
    assert all(b.text.startswith("Barack Obama") for b in blocks[1:]), [b.text[:20] for b in blocks]
    assert all(len(b.text) <= 500 for b in blocks)


def test_lines_that_fit_are_never_cut():
    text = "".join(f"Sentence number {i} is here.\n" for i in range(100))
    blocks = list(iter_blocks(lines_of(text)))
    assert "".join(b.text for b in blocks) == text
    assert all(b.text.endswith("\n") for b in blocks)
    assert all(len(b.text) >= 500 for b in blocks[:-1])
