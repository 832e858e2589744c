"""Evaluation: run the ensemble on gold sentences once, record everything, score many rules from the records.

    sentences = read_labelled(test_file)
    chosen = sample(sentences, limit=200, seed=0)                    # records.py: fixed, prefix-stable
    index = pool_index(pool_file)                                     # cache.py: built once per pool sha256
    tagger = recording_tagger(index, "span")                          # records.py: Tagger.load, recording settings
    entries = run_records(tagger, chosen, RecordCache.for_tagger(tagger, "span"))   # cache.py: resumable
    score_entries(entries, chosen, VoteRule.from_settings(settings))  # scoring.py: seqeval strict IOB2

run.py's `evaluate` does all of that for each retrieval mode and builds the JSON report, which
report.py prints as a table. Members alone, no verification, union vs. vote and other vote rules are
rescored from the records with `votes.decide`; only retrieval ablations need new model runs.
"""
