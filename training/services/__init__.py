"""Writes and business rules for training, one module per concern:

- datasets: freeze a channel's posts (and approved notes) into a DatasetSnapshot + JSONL
- runs: start, cancel, resume, execute (worker) and recover (dead worker) training runs
- registry: versions from runs, promotion, rollback, archive, re-evaluation
"""
