from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from generation import quality
from posts.models import Post
from training.management.commands._common import version_named
from training.models import ModelVersion
from training.services.quality import (
    QUALITY_BRIEFS,
    QUALITY_TOKENS,
    draft_quality_report,
    model_version_quality_evaluate,
)


class Command(BaseCommand):
    help = (
        "The draft-quality benchmark on a channel's held-out posts: base prompt-only, base + "
        "retrieval, tuned and tuned + retrieval, side by side. Stored on the version; without "
        "any version, the two base rows are printed and nothing is stored."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("channel", choices=Post.Channel.values)
        parser.add_argument(
            "version", nargs="?", help="Its number in the channel (3), id:12 or channel:number; "
            "default: the active version, else the newest candidate."
        )  # fmt: skip
        parser.add_argument("--briefs", type=int, default=QUALITY_BRIEFS, help="Held-out posts.")
        parser.add_argument(
            "--tokens", type=int, default=QUALITY_TOKENS, help="New tokens per draft."
        )

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        channel = options["channel"]
        if options["briefs"] < 1 or options["tokens"] < 1:
            raise CommandError("--briefs and --tokens must be at least 1.")
        version = self._version(channel, options["version"])
        sizes = {"briefs": options["briefs"], "max_new_tokens": options["tokens"]}
        try:
            if version is None:
                self.stdout.write(f"The {channel} channel has no model version: base rows only.")
                report = draft_quality_report(
                    channel=channel,
                    base_model=_base_model(),
                    adapter=None,
                    author_ids=[],
                    log=self.stdout.write,
                    **sizes,
                )
            else:
                version = model_version_quality_evaluate(
                    version=version, log=self.stdout.write, **sizes
                )
                report = version.draft_quality
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        title = f"{version}" if version else f"{channel}, base model"
        self.stdout.write(
            f"\nDraft quality, {title}: {report['briefs']} held-out briefs, "
            f"{options['tokens']} new tokens, posts {report['post_ids']}"
        )
        self.stdout.write(quality.format_table(report["rows"]))
        self.stdout.write("")
        self.stdout.write(quality.format_checks(quality.done_when_checks(report["rows"])))
        if version:
            self.stdout.write(self.style.SUCCESS(f"Stored on {version}."))

    def _version(self, channel: str, name: str | None) -> ModelVersion | None:
        if name:
            if name.isdigit():
                name = f"{channel}:{name}"
            elif name.startswith("id:"):
                name = name.removeprefix("id:")
            version = version_named(name)
            if version.channel != channel:
                raise CommandError(f"{version} is not a {channel} version.")
            return version
        versions = ModelVersion.objects.filter(channel=channel).exclude(
            status=ModelVersion.Status.ARCHIVED
        )
        active = versions.filter(status=ModelVersion.Status.ACTIVE).first()
        return active or versions.order_by("-number").first()


def _base_model() -> str:
    from django.conf import settings

    return settings.BASE_MODEL
