"""Corpus cleaning for imported blog posts: plain Python, no Django, so a worker, a notebook or a
benchmark can call it. Services store what these functions return."""

from posts.corpus.cleaning import CleanResult, clean_text
from posts.corpus.contacts import ContactFinding, find_contact_details
from posts.corpus.dedup import (
    MinHasher,
    content_hash,
    estimated_jaccard,
    near_duplicate_pairs,
    shingles,
)
from posts.corpus.splits import split_for

__all__ = [
    "CleanResult",
    "ContactFinding",
    "MinHasher",
    "clean_text",
    "content_hash",
    "estimated_jaccard",
    "find_contact_details",
    "near_duplicate_pairs",
    "shingles",
    "split_for",
]
