"""Training hyperparameters: one dataclass, validated, JSON-safe (stored on every run).

No torch here: the web process validates a run's settings before queueing it.
"""

from dataclasses import asdict, dataclass, fields
from typing import Any

CHECKPOINTS_PER_RUN = 5
# What a stored config without a key meant: a setting added later is read, in the configs of runs
# and checkpoints made before it, as the behaviour before it (from_stored), so an old run resumes
# and re-evaluates as it started, while a new run gets the new default.
LEGACY_VALUES: dict[str, Any] = {"packing": False, "early_stopping_patience": None}


# Defaults chosen on the demo blog (issue 13): 44 posts of 731-1,258 tokens each as chats, 48,054
# tokens in all, so one post a sample truncated at 512 threw away about half of every post, and
# one epoch (10 steps) ended at 0.96x the base model's validation perplexity. Packed into 512-token
# blocks, one epoch is 22 steps at batch 4. Measured on 2 CPU cores (manage.py's path, validation
# loss of the 5 held-out posts at each checkpoint), base validation perplexity 26.18:
#   lr 1e-3, 2 epochs, all 7 linear layers:     44 steps, 18.55 (0.709x)
#   lr 2e-3, 2 epochs, checkpoint every 4 steps: early stop at 28, best 20: 18.36 (0.701x), 258 s
#   these defaults (lr 2e-3, 2 epochs, ~5 checkpoints, patience 2): 44 steps in 442 s, 18.48
#   (0.706x), about 9 s a step on 2 quiet threads. More epochs or data is for GPU workers.
@dataclass
class TrainConfig:
    rank: int = 16
    alpha: float = 32
    dropout: float = 0.0  # FIELD-NOTES: 0 is 1.14x faster and uses 0.82x the memory
    target_modules: tuple[str, ...] = (
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    )  # fmt: skip
    learning_rate: float = 2e-3
    epochs: float = 2.0
    max_steps: int | None = None  # overrides epochs
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 512
    warmup_steps: int | None = None  # None: warmup_ratio of the total
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    seed: int = 0
    # Optimizer steps between checkpoints; None: about CHECKPOINTS_PER_RUN of them, so a short
    # CPU run still has several to compare and a long GPU run does not stop to save every minute.
    checkpoint_every: int | None = None
    max_grad_norm: float | None = 1.0
    # Concatenate the samples (each closed by EOS) and cut the stream into max_length blocks:
    # no post loses its tail to truncation and no token is padding. False: one post a sample.
    packing: bool = True
    # Stop an epochs-based run once validation loss (measured at each checkpoint) has not
    # improved for this many checkpoints; None: never. A run with max_steps takes them all.
    early_stopping_patience: int | None = 2

    def __post_init__(self) -> None:
        # A lone string would otherwise become a tuple of its letters.
        if isinstance(self.target_modules, list | tuple):
            self.target_modules = tuple(self.target_modules)
        self.validate()

    def validate(self) -> None:
        """ValueError naming the first setting out of range (from_dict and the constructor)."""
        whole = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
        real = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
        modules = self.target_modules
        rules = [
            ("rank", whole(self.rank) and self.rank >= 1, "a whole number of at least 1"),
            ("alpha", real(self.alpha) and self.alpha > 0, "a positive number"),
            ("dropout", real(self.dropout) and 0 <= self.dropout < 1, "a number in [0, 1)"),
            ("target_modules", isinstance(modules, tuple) and bool(modules)
             and all(isinstance(m, str) and m for m in modules),
             "a list of module names"),
            ("learning_rate", real(self.learning_rate) and 0 < self.learning_rate <= 1,
             "a number in (0, 1]"),
            ("epochs", real(self.epochs) and 0 < self.epochs <= 1000, "a number in (0, 1000]"),
            ("max_steps", self.max_steps is None or (whole(self.max_steps) and self.max_steps >= 1),
             "empty or a whole number of at least 1"),
            ("batch_size", whole(self.batch_size) and self.batch_size >= 1, "at least 1"),
            ("grad_accum", whole(self.grad_accum) and self.grad_accum >= 1, "at least 1"),
            ("max_length", whole(self.max_length) and self.max_length >= 16, "at least 16"),
            ("warmup_steps",
             self.warmup_steps is None or (whole(self.warmup_steps) and self.warmup_steps >= 0),
             "empty or a whole number of at least 0"),
            ("warmup_ratio", real(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
             "a number in [0, 1)"),
            ("weight_decay", real(self.weight_decay) and self.weight_decay >= 0, "at least 0"),
            ("seed", whole(self.seed) and self.seed >= 0, "a whole number of at least 0"),
            ("checkpoint_every",
             self.checkpoint_every is None
             or (whole(self.checkpoint_every) and self.checkpoint_every >= 1),
             "empty or at least 1"),
            ("max_grad_norm",
             self.max_grad_norm is None or (real(self.max_grad_norm) and self.max_grad_norm > 0),
             "empty or a positive number"),
            ("packing", isinstance(self.packing, bool), "true or false"),
            ("early_stopping_patience",
             self.early_stopping_patience is None
             or (whole(self.early_stopping_patience) and self.early_stopping_patience >= 1),
             "empty or a whole number of at least 1"),
        ]  # fmt: skip
        for name, ok, expected in rules:
            if not ok:
                value = getattr(self, name)
                raise ValueError(f"Invalid training setting {name}={value!r}: expected {expected}.")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        if not isinstance(data, dict):
            raise ValueError("Training settings must be a JSON object.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown training setting(s): {', '.join(unknown)}.")
        return cls(**data)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> "TrainConfig":
        """A run's or checkpoint's stored settings: keys it predates mean what they meant then
        (LEGACY_VALUES), not today's defaults."""
        if not isinstance(data, dict):
            raise ValueError("Training settings must be a JSON object.")
        return cls.from_dict({**LEGACY_VALUES, **data})

    def checkpoint_interval(self, total_steps: int) -> int:
        if self.checkpoint_every is not None:
            return self.checkpoint_every
        return max(1, -(-total_steps // CHECKPOINTS_PER_RUN))  # ceil
