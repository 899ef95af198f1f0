"""Drift reports: a channel's new posts and requests against what its version trained on.

The reference is the version's DatasetSnapshot: its train-split posts (their text read by id
from the posts table, so an edited post counts as it reads now) and, on the clinical channel,
its train-split notes' de-identified text through `note_list_for_training`, the one door to
notes. The current corpus: the channel's posts (by the dataset rules, any author) created or
published since the snapshot froze and not in it, and approved notes it does not hold.
Requests: the briefs (topic and outline) of the channel's drafts of the last
BLOGLLM_DRIFT_REQUEST_DAYS days, against the reference posts' titles and excerpts.
Behaviour: the channel's finished drafts per ISO week over BEHAVIOUR_WEEKS weeks, each figure a
mean (or rate) with its 95% interval (generation.stats), shown and not judged.

The report keeps numbers only: no text, no word, so a clinical report holds nothing to leak.
"""

import logging
import random
import statistics
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import permissions as can
from accounts.models import User
from compliance.selectors import note_list_for_training
from generation.models import GenerationRun
from generation.stats import FINISHED, Mean, Rate
from posts.models import Post
from training import drift
from training.models import DatasetSnapshot, DriftReport
from training.selectors import drift_reference_version
from training.services.datasets import dataset_posts

logger = logging.getLogger(__name__)

BEHAVIOUR_WEEKS = 12
# Texts per side at most (a seeded sample beyond): embedding is the slow part, and a few
# thousand texts already measure every statistic here to the second decimal.
MAX_ITEMS = 2000


def drift_config() -> drift.DriftConfig:
    return drift.DriftConfig(
        alpha=settings.DRIFT_ALPHA,
        auc_threshold=settings.DRIFT_AUC_THRESHOLD,
        min_items=settings.DRIFT_MIN_ITEMS,
    )


def drift_report_compute(*, channel: str) -> DriftReport:
    """Compare, store and return the channel's report; ValidationError with no version."""
    version = drift_reference_version(channel)
    if version is None:
        raise ValidationError(
            "This channel has no trained version yet: a drift report compares against one."
        )
    snapshot = version.dataset
    reference, current, provenance = _corpus(snapshot, channel=channel)
    briefs = _briefs(channel)
    titles = [f"{p.title}. {p.excerpt}".strip() for p in reference["posts"]]
    config = drift_config()
    embed = _embed()
    corpus = _compare("corpus", reference["texts"], current, embed=embed, config=config)
    requests = _compare("requests", titles, briefs, embed=embed, config=config, lengths=False)
    parts = {"corpus": corpus.as_dict(), "requests": requests.as_dict()}
    report = {
        "format": DriftReport.FORMAT,
        "config": {**vars(config), "request_days": settings.DRIFT_REQUEST_DAYS},
        "reference": provenance,
        "parts": parts,
        "behaviour": drift_behaviour(channel),
        "scores": _scores(corpus, requests),
        "version": {"id": version.id, "number": version.number, "status": version.status},
    }
    return DriftReport.objects.create(
        channel=channel,
        version=version,
        report=report,
        drifted=bool(corpus.drifted or requests.drifted),
    )


def _corpus(snapshot: DatasetSnapshot, *, channel: str) -> tuple[dict, list[str], dict]:
    """(reference posts and texts, current texts, what was compared) for the channel."""
    held = {m["id"] for m in snapshot.members}
    train = {m["id"] for m in snapshot.members if m.get("split") == "train"}
    post_ids = [int(i.removeprefix("post:")) for i in train if i.startswith("post:")]
    posts = list(
        Post.objects.filter(id__in=post_ids)
        .only("title", "excerpt", "body_markdown")
        .order_by("id")
    )
    reference = [p.body_markdown.strip() for p in posts]
    frozen = snapshot.created_at
    new_posts = [
        p
        for p in dataset_posts(channel=channel, author_ids=[])
        if f"post:{p.id}" not in held
        and (p.created_at >= frozen or (p.published_at is not None and p.published_at >= frozen))
    ]
    current = [p.body_markdown.strip() for p in new_posts]
    notes = {"reference": 0, "current": 0}
    if channel == Post.Channel.CLINICAL:
        for note in note_list_for_training():
            key = f"note:{note.uid}"
            if key in train:
                reference.append(note.deid_text.strip())
                notes["reference"] += 1
            elif key not in held:
                current.append(note.deid_text.strip())
                notes["current"] += 1
    provenance = {
        "snapshot": snapshot.id,
        "snapshot_at": frozen.isoformat(),
        "posts": len(posts),
        "missing_posts": len(post_ids) - len(posts),  # deleted since the snapshot froze
        "new_posts": len(new_posts),
        "notes": notes,
    }
    return {"posts": posts, "texts": reference}, current, provenance


def _briefs(channel: str) -> list[str]:
    """What editors asked for lately: each draft brief's topic and outline."""
    since = timezone.now() - timedelta(days=settings.DRIFT_REQUEST_DAYS)
    briefs = GenerationRun.objects.filter(
        channel=channel, kind=GenerationRun.Kind.DRAFT, created_at__gte=since
    ).values_list("brief", flat=True)
    texts = (f"{b.get('topic', '')}. {b.get('outline', '')}".strip(" .") for b in briefs)
    return [text for text in texts if text]


def _embed():  # noqa: ANN202 - the embedder's embed: list[str] -> unit vectors
    from posts.embedder import get_embedder

    return get_embedder(settings.EMBED_MODEL).embed


def _sample(texts: list[str]) -> list[str]:
    if len(texts) <= MAX_ITEMS:
        return texts
    return random.Random(0).sample(texts, MAX_ITEMS)  # noqa: S311 - a sample, not a secret


def _compare(
    name: str,
    reference: list[str],
    current: list[str],
    *,
    embed,  # noqa: ANN001
    config: drift.DriftConfig,
    lengths: bool = True,
) -> drift.Part:
    reference, current = _sample(reference), _sample(current)
    # Tiny sides are not compared at all: embedding them would be wasted.
    enough = min(len(reference), len(current)) >= config.min_items
    vectors = embed([*reference, *current]) if enough else np.zeros((0, 1))
    return drift.compare(
        name,
        reference=reference,
        current=current,
        reference_vectors=vectors[: len(reference)] if enough else np.zeros((len(reference), 1)),
        current_vectors=vectors[len(reference) :] if enough else np.zeros((len(current), 1)),
        config=config,
        lengths=lengths,
    )


def _scores(corpus: drift.Part, requests: drift.Part) -> dict:
    """The headline numbers for /metrics: classifier AUC and centroid distance per part."""
    scores = {}
    for part in (corpus, requests):
        values = {s.name: s.value for s in part.statistics}
        scores[f"{part.name}_auc"] = values.get("classifier")
        scores[f"{part.name}_centroid"] = values.get("centroid")
    return scores


# --- Behaviour per week ---------------------------------------------------------------------

BEHAVIOUR = (
    ("style_fidelity", "Style fidelity"),
    ("grounding", "Grounding"),
    ("findings", "Guard findings per draft"),
    ("acceptance", "Acceptance"),
    ("edit_distance", "Edit distance"),
)


def drift_behaviour(channel: str, *, weeks: int = BEHAVIOUR_WEEKS) -> dict[str, list[dict]]:
    """Per metric, one {week, mean, low, high, n} per ISO week with finished drafts."""
    since = timezone.now() - timedelta(weeks=weeks)
    rows = list(
        GenerationRun.objects.filter(
            channel=channel,
            kind=GenerationRun.Kind.DRAFT,
            status__in=FINISHED,
            created_at__gte=since,
        ).values_list(
            "created_at", "style_fidelity", "grounding", "findings", "published_at", "edit_distance"
        )
    )
    means = {
        "style_fidelity": drift.by_week((at, style) for at, style, *_ in rows),
        "grounding": drift.by_week((at, grounded) for at, _, grounded, *_ in rows),
        "findings": drift.by_week((row[0], len(row[3] or [])) for row in rows),
        "edit_distance": drift.by_week((row[0], row[5]) for row in rows),
    }
    accepted = drift.by_week((row[0], float(row[4] is not None)) for row in rows)
    behaviour = {
        name: [_mean_point(w, v) for w, v in weeks.items()] for name, weeks in means.items()
    }
    behaviour["acceptance"] = [_rate_point(w, v) for w, v in accepted.items()]
    return {name: behaviour[name] for name, _ in BEHAVIOUR}


def _mean_point(week: str, values: list[float]) -> dict:
    sd = statistics.stdev(values) if len(values) >= 2 else None
    mean = Mean(statistics.fmean(values), sd, len(values))
    low, high = mean.interval or (None, None)
    return {"week": week, "mean": mean.value, "low": low, "high": high, "n": mean.n}


def _rate_point(week: str, values: list[float]) -> dict:
    rate = Rate(int(sum(values)), len(values))
    low, high = rate.interval or (None, None)
    return {"week": week, "mean": rate.value, "low": low, "high": high, "n": rate.total}


# --- Beat -----------------------------------------------------------------------------------


def drift_reports_due() -> list[int]:
    """Compute each channel's report that is due: none yet against its version, or the latest
    older than BLOGLLM_DRIFT_EVERY_HOURS. Beat calls this often; it is cheap when nothing is
    due. One channel's failure is logged and does not stop the other."""
    made = []
    stale = timezone.now() - timedelta(hours=settings.DRIFT_EVERY_HOURS)
    for channel in Post.Channel.values:
        version = drift_reference_version(channel)
        if version is None:
            continue
        latest = DriftReport.objects.filter(channel=channel).only("version", "computed_at").first()
        if latest and latest.version_id == version.id and latest.computed_at > stale:
            continue
        try:
            made.append(drift_report_compute(channel=channel).id)
        except Exception:
            logger.exception("The %s drift report could not be computed.", channel)
    return made


def drift_report_request(*, channel: str, by: User) -> None:
    """The drift page's "Compute now": computed on the default queue once this commits."""
    from training.tasks import drift_report_compute_task

    if not can.can_manage_models(by, channel):
        raise PermissionDenied("Only those who manage this channel's models compute its drift.")
    if drift_reference_version(channel) is None:
        raise ValidationError(
            "This channel has no trained version yet: a drift report compares against one."
        )
    transaction.on_commit(lambda: drift_report_compute_task.delay(channel=channel))
