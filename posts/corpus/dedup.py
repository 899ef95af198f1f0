"""Duplicate detection: an exact content hash, word shingles, MinHash signatures and LSH banding.

Signatures are stored, so everything here is deterministic across processes, machines and
library versions: hashes come from zlib's CRC-32 and hashlib, never from Python's salted hash()
or numpy's random generators.
"""

import hashlib
import itertools
import re
import unicodedata
import zlib
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

import numpy as np

# Permutations are multiply-add-shift hashes, (a * x + b) mod 2**64 >> 32, on a 64-bit mix of the
# shingle's CRC-32: uint64 arithmetic that numpy wraps for free, where a modulo prime costs a
# division per value (this is what keeps 1,000 posts of 800 words near a second).
_SHIFT = np.uint64(32)
_MIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX_2 = np.uint64(0xC4CEB9FE1A85EC53)
_MIX_SHIFT = np.uint64(33)
# Permutation values are below 2**32, so a signature of 2**32 marks a text with no shingles.
_EMPTY = 2**32
_APOSTROPHES = re.compile("['`\u2018\u2019\u02bc\u00b4]")
# Whitespace is left to str.split() and "_" to str.replace(): this plain one-character class is
# the fastest regex for the job (a regex that also matched spaces was five times slower).
_PUNCTUATION = re.compile(r"[^\w\s]")


class _Comparable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Comparable)


def normalise_for_matching(text: str) -> str:
    """Casefolded words separated by single spaces: punctuation, quotes, Markdown marks and
    whitespace differences vanish; apostrophes are dropped so "don't" and "don’t" are "dont"."""
    return " ".join(_words(text))


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _PUNCTUATION.sub(" ", _APOSTROPHES.sub("", text)).replace("_", " ").split()


def content_hash(text: str) -> str:
    """sha256 hex of the normalised text: equal for the same post re-typed with other whitespace,
    quotes or punctuation; for exact-duplicate detection."""
    return hashlib.sha256(normalise_for_matching(text).encode("utf-8")).hexdigest()


def shingles(text: str, k: int = 5) -> set[str]:
    """Word k-shingles of the normalised text; empty when it has fewer than k words."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    words = _words(text)
    return set(map(" ".join, zip(*(words[i:] for i in range(k)), strict=False)))


class MinHasher:
    """MinHash signatures of word k-shingles, `num_perm` values each.

    Same num_perm, seed and k, same signature, in any process: store them next to the post and
    compare them with `estimated_jaccard` or `near_duplicate_pairs`. Values are ints below 2**32
    (a bigint column or JSON holds them); a text shorter than k words gets 2**32 throughout, which
    matches nothing.
    """

    def __init__(self, num_perm: int = 128, seed: int = 1, k: int = 5) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be at least 1, not {num_perm}")
        self.num_perm, self.seed, self.k = num_perm, seed, k
        multipliers, offsets = [], []
        for index in range(num_perm):
            digest = hashlib.blake2b(
                f"{seed}:{index}".encode(), digest_size=16, person=b"blogllm-minhash"
            ).digest()
            multipliers.append(int.from_bytes(digest[:8], "big") | 1)  # odd: a bijection
            offsets.append(int.from_bytes(digest[8:], "big"))
        self._multipliers = np.array(multipliers, dtype=np.uint64)
        self._offsets = np.array(offsets, dtype=np.uint64)

    def signature(self, text: str) -> tuple[int, ...]:
        grams = shingles(text, self.k)
        if not grams:
            return (_EMPTY,) * self.num_perm
        crcs = np.fromiter((zlib.crc32(gram.encode()) for gram in grams), np.uint64, len(grams))
        values = np.outer(_mix64(crcs), self._multipliers)
        values += self._offsets
        # The shift is monotone, so it can wait until after the minimum: 128 values, not 100,000.
        return tuple((values.min(axis=0) >> _SHIFT).tolist())


def _mix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: spreads CRC-32's linear structure over all 64 bits."""
    values = values ^ (values >> _MIX_SHIFT)
    values = values * _MIX_1
    values = values ^ (values >> _MIX_SHIFT)
    values = values * _MIX_2
    return values ^ (values >> _MIX_SHIFT)


def _is_empty(signature: tuple[int, ...]) -> bool:
    return not signature or signature[0] == _EMPTY


def estimated_jaccard(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Share of equal positions; 0.0 when either text had too few words to shingle."""
    if len(a) != len(b):
        raise ValueError(f"signatures differ in length: {len(a)} and {len(b)}")
    if _is_empty(a) or _is_empty(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def near_duplicate_pairs(
    signatures: Mapping[K, tuple[int, ...]], threshold: float = 0.8, bands: int = 32
) -> list[tuple[K, K, float]]:
    """(a, b, estimated Jaccard) for every pair at or above `threshold`, a < b, sorted by keys.

    LSH: each signature is cut into `bands` bands; pairs sharing any band whole are candidates,
    then scored on the full signature. With 128 values and 32 bands (4 rows), a pair at Jaccard
    0.8 becomes a candidate with probability above 0.9999999. Texts shorter than k words take no
    part.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    keys = sorted(key for key, signature in signatures.items() if not _is_empty(signature))
    if not keys:
        return []
    length = len(signatures[keys[0]])
    if bands < 1 or length % bands:
        raise ValueError(f"bands ({bands}) must divide the signature length ({length})")
    rows = length // bands
    buckets: defaultdict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for rank, key in enumerate(keys):
        signature = signatures[key]
        if len(signature) != length:
            raise ValueError(f"signature of {key!r} has {len(signature)} values, not {length}")
        for band in range(bands):
            buckets[(band, signature[band * rows : (band + 1) * rows])].append(rank)
    candidates: set[tuple[int, int]] = set()
    for ranks in buckets.values():
        # Ranks were appended in ascending order, so each combination is already (low, high).
        candidates.update(itertools.combinations(ranks, 2))
    pairs: list[tuple[K, K, float]] = []
    for low, high in sorted(candidates):
        score = estimated_jaccard(signatures[keys[low]], signatures[keys[high]])
        if score >= threshold:
            pairs.append((keys[low], keys[high], score))
    return pairs
