from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from posts.importers import iter_import
from posts.models import Post
from posts.services.importing import ReportLine, import_items


class Command(BaseCommand):
    help = (
        "Import earlier posts from PATH: a folder or zip of Markdown files with front matter, a "
        "WordPress WXR export, an RSS or Atom feed, or HTML files. Prints a line per file or item."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("path", type=Path)
        parser.add_argument("--author", required=True, help="E-mail of the user who wrote them.")
        parser.add_argument("--channel", choices=Post.Channel.values, default=Post.Channel.GENERAL)
        parser.add_argument("--quiet", action="store_true", help="Print only the totals.")

    def handle(self, *args, path: Path, author: str, channel: str, quiet: bool, **options) -> None:  # noqa: ANN002, ANN003
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        user = User.objects.filter(email__iexact=author).first()
        if user is None:
            raise CommandError(f"No user has the e-mail address {author}.")

        def show(line: ReportLine) -> None:
            if not quiet:
                detail = f" — {line.detail}" if line.detail else ""
                self.stdout.write(f"{line.outcome:<9} {line.source}{detail}")

        report = import_items(iter_import(path), by=user, channel=channel, on_item=show)
        totals = Counter(line.outcome for line in report)
        self.stdout.write(
            f"{totals['imported']} imported, {totals['duplicate']} duplicates, "
            f"{totals['skipped']} skipped."
        )
