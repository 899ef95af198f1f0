import os
import socket
import threading

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from generation.services import stream
from generation.services.execute import generation_run_execute
from generation.services.runs import generation_run_start


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
        listener = self._listen(run) if options["stream"] else None
        worker = f"manage.py generate@{socket.gethostname()}:{os.getpid()}"
        run = generation_run_execute(run_id=run.id, worker=worker)
        if listener is not None:
            listener.join(timeout=5)  # the last pieces may still be on their way through Redis
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

    def _listen(self, run: object) -> threading.Thread:
        """Print the words the worker (here: this process) adds to the run's stream as they
        come, with a rule where a revision starts over."""

        def show() -> None:
            shown = False
            for entry in stream.follow(run):
                message = entry.message if entry else {}
                text = message.get("text")
                if not isinstance(text, str):
                    continue
                if message.get("replace") and shown:
                    self.stdout.write("\n\n--- revised ---\n\n", ending="")
                self.stdout.write(text, ending="")
                self.stdout.flush()
                shown = shown or bool(text)

        listener = threading.Thread(target=show, name=f"generate-stream-{run.id}", daemon=True)
        listener.start()
        return listener
