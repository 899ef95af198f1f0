from django.core.management.base import BaseCommand, CommandError

from posts.services.embedding import post_embed, posts_embed_all


class Command(BaseCommand):
    help = "Chunk and embed posts for search (only those whose text changed, unless --force)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--all", action="store_true", help="Every post (backfill).")
        target.add_argument("--post", type=int, help="One post id.")
        parser.add_argument("--force", action="store_true", help="Re-embed unchanged posts too.")

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        if options["post"]:
            written = post_embed(post_id=options["post"], force=options["force"])
            self.stdout.write(f"{written} chunks written.")
            return
        if not options["all"]:
            raise CommandError("Say --all or --post ID.")

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"  {done}/{total} posts", ending="\r")

        posts, chunks = posts_embed_all(force=options["force"], progress=progress)
        self.stdout.write(f"\nEmbedded {posts} posts into {chunks} chunks.")
