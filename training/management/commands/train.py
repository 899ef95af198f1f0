import socket

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from training.management.commands._common import acting_user
from training.models import TrainingRun
from training.services.runs import training_run_execute, training_run_start


class Command(BaseCommand):
    help = (
        "Fine-tune the base model on a channel's posts (LoRA) and register the result as a "
        "candidate version. Runs here and now, or on the gpu queue with --queue."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--channel", choices=["general", "clinical"], default="general")
        parser.add_argument("--max-steps", type=int, help="Stop after this many optimizer steps.")
        parser.add_argument("--epochs", type=float)
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--max-length", type=int, help="Sequence length in tokens.")
        parser.add_argument("--learning-rate", type=float)
        parser.add_argument("--rank", type=int, help="LoRA rank.")
        parser.add_argument("--checkpoint-every", type=int, help="Steps between checkpoints.")
        parser.add_argument("--base-model", help="HF model id or local folder (default: setting).")
        parser.add_argument(
            "--author", action="append", default=[], help="E-mail of an author (repeatable)."
        )
        parser.add_argument("--as", dest="as_user", help="E-mail of the user who asks.")
        parser.add_argument(
            "--queue", action="store_true", help="Hand the run to a gpu worker and return."
        )

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        names = {
            "max_steps": "max_steps",
            "epochs": "epochs",
            "batch_size": "batch_size",
            "max_length": "max_length",
            "learning_rate": "learning_rate",
            "rank": "rank",
            "checkpoint_every": "checkpoint_every",
        }
        hyperparameters = {k: options[o] for o, k in names.items() if options[o] is not None}
        authors = []
        for email in options["author"]:
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                raise CommandError(f"No author with the e-mail address {email}.")
            authors.append(user.id)
        try:
            run = training_run_start(
                channel=options["channel"],
                by=acting_user(options["as_user"]),
                author_ids=authors,
                hyperparameters=hyperparameters,
                base_model=options["base_model"],
                enqueue=options["queue"],
            )
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        if options["queue"]:
            self.stdout.write(f"Queued training run #{run.id} on the gpu queue.")
            return
        self.stdout.write(f"Training run #{run.id} ({run.channel}, {run.base_model})…")
        training_run_execute(run_id=run.id, worker=f"manage.py@{socket.gethostname()}")
        run.refresh_from_db()
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Run #{run.id} {run.status}: {run.error or run.phase}")
        version = run.version
        metrics = version.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {version} (candidate): validation perplexity "
                f"{metrics['val_perplexity']:.2f} vs base {metrics['base_val_perplexity']:.2f}."
            )
        )
