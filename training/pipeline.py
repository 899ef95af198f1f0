"""Evaluating trained checkpoints against the base model (plain Python, no Django).

One base model is loaded and every checkpoint's adapter is attached to it by name, so base and
tuned figures come from the same weights in the same process: validation perplexity for each
checkpoint (the lowest wins), then for the winner three samples from fixed briefs beside the
base model's, a style score against held-out posts, and, when asked, a memorisation test.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.samples import Sample


@dataclass
class EvaluationReport:
    base_model: str
    best_step: int
    val_perplexity: float
    base_val_perplexity: float
    checkpoints: list[dict]  # [{step, val_perplexity}]
    samples: list[dict] = field(default_factory=list)  # [{brief, base, tuned}]
    style_score: float | None = None
    base_style_score: float | None = None
    memorisation: dict | None = None
    format: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_checkpoints(
    *,
    base_model: str,
    cache_dir: Path,
    plan: object,
    checkpoints: list[tuple[int, Path]],
    validation: list[Sample],
    max_length: int,
    briefs: list[str],
    references: list[str],
    embed: Callable[[list[str]], object] | None,
    sample_tokens: int = 120,
    memorisation_texts: list[tuple[str, str]] | None = None,
    canaries: list[str] | None = None,
    memorisation_threshold: float = 0.5,
    log: Callable[[str], None] = lambda text: None,
) -> EvaluationReport:
    from peft import PeftModel

    from training.base_model import load_base_model
    from training.evaluation import (
        generate_text,
        memorisation_test,
        perplexity,
        style_score,
    )
    from training.trainer import quiet_peft

    if not checkpoints:
        raise ValueError("There is no checkpoint to evaluate.")
    base, tokenizer = load_base_model(base_model, cache_dir=cache_dir, plan=plan)
    names = {step: f"step-{step}" for step, _ in checkpoints}
    first_step, first_dir = checkpoints[0]
    with quiet_peft():
        model = PeftModel.from_pretrained(base, str(first_dir), adapter_name=names[first_step])
        for step, path in checkpoints[1:]:
            model.load_adapter(str(path), adapter_name=names[step])
    model.eval()

    with model.disable_adapter():
        base_ppl = perplexity(model, tokenizer, validation, max_length=max_length)
    log(f"Base model: validation perplexity {base_ppl:.2f}.")
    scores = []
    for step, _ in checkpoints:
        model.set_adapter(names[step])
        ppl = perplexity(model, tokenizer, validation, max_length=max_length)
        scores.append({"step": step, "val_perplexity": ppl})
        log(f"Checkpoint of step {step}: validation perplexity {ppl:.2f}.")
    # The lowest perplexity wins; on a tie the later (longer-trained) checkpoint.
    best = min(scores, key=lambda s: (s["val_perplexity"], -s["step"]))
    model.set_adapter(names[best["step"]])
    report = EvaluationReport(
        base_model=base_model,
        best_step=best["step"],
        val_perplexity=best["val_perplexity"],
        base_val_perplexity=base_ppl,
        checkpoints=scores,
    )

    for i, brief in enumerate(briefs):
        tuned = generate_text(model, tokenizer, brief, max_new_tokens=sample_tokens, seed=i)
        with model.disable_adapter():
            plain = generate_text(model, tokenizer, brief, max_new_tokens=sample_tokens, seed=i)
        report.samples.append({"brief": brief, "base": plain, "tuned": tuned})
    log(f"Wrote {len(briefs)} samples from fixed briefs, base and tuned.")
    if embed is not None and references and report.samples:
        report.style_score = style_score([s["tuned"] for s in report.samples], references, embed)
        report.base_style_score = style_score(
            [s["base"] for s in report.samples], references, embed
        )
        log(f"Style score {report.style_score:.3f} (base {report.base_style_score:.3f}).")

    if memorisation_texts is not None:
        result = memorisation_test(
            model,
            tokenizer,
            memorisation_texts,
            canaries=canaries or [],
            threshold=memorisation_threshold,
        )
        report.memorisation = asdict(result)
        verdict = "passed" if result.passed else "FAILED"
        log(f"Memorisation test {verdict}: highest verbatim continuation {result.max_overlap:.0%}.")
    return report
