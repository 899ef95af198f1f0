import json
import os
import socket
import threading

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from generation.services import generation_run_execute, generation_run_start, stream_channel


class Command(BaseCommand):
    help = (
        "Write an AI-assisted draft on a topic (retrieve → draft → guard → revise → finalise) "
        "and print it with its citations. Runs here and now; the draft is saved as a post."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--topic", required=True)
        parser.add_argument("--channel", choices=["general", "clinical"], default="general")
        parser.add_argument("--outline", default="")
        parser.add_argument("--audience", default="")
        parser.add_argument("--tone", default="")
        parser.add_argument("--length", type=int, help="Words, roughly.")
        parser.add_argument("--max-new-tokens", type=int)
        parser.add_argument("--seed", type=int)
        parser.add_argument(
            "--base-model", help="HF model id or folder, when no version is active."
        )
        parser.add_argument("--as", dest="as_user", required=True, help="E-mail of the author.")
        parser.add_argument(
            "--stream", action="store_true", help="Print the words as they are written."
        )

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        user = User.objects.filter(email__iexact=options["as_user"]).first()
        if user is None:
            raise CommandError(f"No user with the e-mail address {options['as_user']}.")
        brief = {k: options[k] for k in ("topic", "outline", "audience", "tone", "length")}
        sampling = {k: options[k] for k in ("max_new_tokens", "seed") if options[k] is not None}
        try:
            run = generation_run_start(
                channel=options["channel"],
                brief=brief,
                by=user,
                sampling=sampling,
                base_model=options["base_model"],
                enqueue=False,
            )
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        done = threading.Event()
        listener = self._listen(run.id, done) if options["stream"] else None
        worker = f"manage.py generate@{socket.gethostname()}:{os.getpid()}"
        run = generation_run_execute(run_id=run.id, worker=worker)
        if listener is not None:
            done.wait(timeout=5)  # the last pieces may still be on their way through Redis
            listener.stop()
            self.stdout.write("")
        if run.status not in ("succeeded", "needs_review"):
            raise CommandError(f"Run #{run.id} {run.status}: {run.error}")
        if not options["stream"]:
            self.stdout.write(run.output)
        self.stdout.write("\nSources:")
        for source in run.sources:
            where = f"post {source['post_id']}" if "post_id" in source else "clinical note"
            self.stdout.write(f"  [{source['n']}] {source.get('title', '')} ({where})")
        for finding in run.findings:
            self.stdout.write(self.style.WARNING(f"  ! {finding['kind']}: {finding['detail']}"))
        self.stdout.write(
            f"\nRun #{run.id} {run.get_status_display().lower()}; draft saved as post "
            f"#{run.post_id}. {run.new_tokens} tokens at {run.tokens_per_s or 0:.1f} tokens/s."
        )

    def _listen(self, run_id: int, done: threading.Event):  # noqa: ANN202
        """Print the tokens the worker publishes (here: this process) as they come."""
        import redis
        from django.conf import settings

        pubsub = redis.Redis.from_url(settings.REDIS_URL).pubsub(ignore_subscribe_messages=True)

        def show(message: dict) -> None:
            data = json.loads(message["data"])
            if "text" in data:
                self.stdout.write(data["text"], ending="")
                self.stdout.flush()
            if data.get("done"):
                done.set()

        pubsub.subscribe(**{stream_channel(run_id): show})
        return pubsub.run_in_thread(sleep_time=0.05, daemon=True)
