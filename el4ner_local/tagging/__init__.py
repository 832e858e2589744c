"""`el4ner-local tag` as a stream: inputs cut into blocks (blocks.py), read and written block by block
(tag_io.py, writers.py), resumed from an earlier output (resume.py), driven in one process
(single.py) or over a Ray cluster (ray_driver.py)."""
