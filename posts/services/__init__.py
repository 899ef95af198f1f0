"""Writes and business rules for posts, one module per concern:

- editing: create and update posts (revisions, optimistic concurrency, autosave)
- workflow: submit, approve, request changes, schedule, publish, archive, back to draft
- importing: turn parsed imports into posts (cleaning, duplicates, contact details, split)
- embedding: chunk and embed a post for search and retrieval
"""
