"""Draft quality per precision path (issue 17): does a faster path write drafts as good as fp32?

Each configuration runs the draft-quality benchmark (training/services/quality.py, base model:
prompt-only and with retrieval, as bench_quality with BENCH_QUALITY_TRAIN=0) in a fresh process
on a throwaway database with the demo posts, with BLOGLLM_GENERATION_PRECISION set:

- float32 with the benchmark's seeds: the reference;
- float32 with other seeds: the noise. A precision path changes the numbers the sampler draws
  from, which moves a draft about as much as another seed does; a difference no larger than the
  seed-to-seed one is noise, not a worse path;
- bfloat16 and int8 with the benchmark's seeds.

Printed: each metric's mean per configuration, and each path's paired difference from the
reference (mean over the same briefs and setups, with a bootstrap 95% interval). A path is
"worse" on a metric when its difference is below zero by more than the noise's and its interval
lies below zero. BENCH_QUALITY_BRIEFS and BENCH_QUALITY_TOKENS size it (the product's: 5, 200).
"""

import os
import random
import statistics

from bench._django import bench_author, in_fresh_process, throwaway_django

CONFIGS = [("float32", 0), ("float32", 100), ("bfloat16", 0), ("int8", 0)]  # (precision, seed+)
# Higher is better for all but meta_talk (the draft talks about itself).
METRICS = ["style_fidelity", "grounding", "rouge_l", "guard_passed", "complete", "meta_talk"]


def measure(precision: str, seed_offset: int) -> dict:
    os.environ["BLOGLLM_GENERATION_PRECISION"] = precision
    with throwaway_django():
        from django.conf import settings

        from blogllm.demo import seed_demo_posts
        from posts.services.embedding import posts_embed_all
        from training.services import quality as service

        author = bench_author()
        seed_demo_posts(author)
        posts_embed_all()
        report = service.draft_quality_report(
            channel="general", base_model=settings.BASE_MODEL, adapter=None,
            author_ids=[author.id],
            briefs=int(os.environ.get("BENCH_QUALITY_BRIEFS", service.QUALITY_BRIEFS)),
            max_new_tokens=int(os.environ.get("BENCH_QUALITY_TOKENS", service.QUALITY_TOKENS)),
            seed=service.SEED + seed_offset, log=lambda line: None,
        )  # fmt: skip
        speed = [d["tokens_per_s"] for d in report["drafts"] if d["tokens_per_s"]]
        return {"drafts": report["drafts"], "seconds": report["seconds"],
                "tokens_per_s": statistics.median(speed) if speed else None}  # fmt: skip


def values(drafts: list[dict], metric: str) -> dict[tuple, float]:
    return {
        (d["post_id"], d["setup"]): float(d[metric]) for d in drafts if d.get(metric) is not None
    }


def paired(a: dict[tuple, float], b: dict[tuple, float]) -> tuple[float, float, float]:
    """Mean of b - a over the keys both have, and a bootstrap 95% interval of it."""
    keys = sorted(set(a) & set(b))
    diffs = [b[k] - a[k] for k in keys]
    rng = random.Random(0)
    means = sorted(statistics.fmean(rng.choice(diffs) for _ in diffs) for _ in range(2000))
    return statistics.fmean(diffs), means[49], means[1949]


def main() -> None:
    results = {}
    for precision, offset in CONFIGS:
        label = precision if offset == 0 else f"{precision} (seeds +{offset})"
        results[label] = in_fresh_process(measure, precision, offset)
        r = results[label]
        print(f"{label}: {len(r['drafts'])} drafts in {r['seconds']:.0f} s, median "
              f"{r['tokens_per_s']:.1f} tokens/s", flush=True)  # fmt: skip
    reference, noise_label = results["float32"], "float32 (seeds +100)"
    print(f"\n{'metric':15}" + "".join(f"{label:>22}" for label in results))
    for metric in METRICS:
        means = [statistics.fmean(values(r["drafts"], metric).values() or [0.0])
                 for r in results.values()]  # fmt: skip
        print(f"{metric:15}" + "".join(f"{m:>22.3f}" for m in means))
    print("\npaired difference from float32 (mean [95% interval]); noise: float32, other seeds")
    for metric in METRICS:
        sign = -1 if metric == "meta_talk" else 1
        ref = values(reference["drafts"], metric)
        noise, _, _ = paired(ref, values(results[noise_label]["drafts"], metric))
        cells = [f"noise {noise:+.3f}"]
        for label in ("bfloat16", "int8"):
            mean, low, high = paired(ref, values(results[label]["drafts"], metric))
            worse = sign * mean < -abs(noise) and (sign * high < 0 if sign > 0 else low > 0)
            cells.append(f"{label} {mean:+.3f} [{low:+.3f}, {high:+.3f}]"
                         f"{' WORSE' if worse else ''}")  # fmt: skip
        print(f"  {metric:15} " + "   ".join(cells))


if __name__ == "__main__":
    main()
