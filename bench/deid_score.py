"""Our engine on the synthetic corpus, with its misses: the quick loop for tuning de-identification.

    python -m bench.deid_score --n 300 --seed 7 --show 20

Prints compliance.deid.scoring's report (overall, per category, the most frequent misses) and
the first --show misses in context. `python -m bench deid` is the full comparison with Presidio
and philter-lite; this one needs nothing beyond the product's own requirements.
"""

import argparse
import sys

from bench.deid_corpus import generate_corpus
from compliance.deid import find_spans
from compliance.deid.scoring import score_notes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Score our engine on the synthetic corpus.")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=25, help="how many frequent misses to list")
    parser.add_argument("--show", type=int, default=0, help="also list N misses in context")
    args = parser.parse_args(argv)
    result = score_notes(generate_corpus(args.n, args.seed), lambda text: find_spans(text))
    out = [result.report(args.top)]
    out += [f"  {m.note_id} {m.label:<12} {m.context}" for m in result.missed[: args.show]]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
