"""A tiny randomly initialised Llama with a real tokenizer: the test suite's base model.

It has the shape of the real thing (a Llama causal LM, a byte-level BPE fast tokenizer, ChatML
special tokens and SmolLM2's chat template) at a size that builds in well under a second, so every
piece of ML plumbing (encoding, training, checkpoints, adapters, generation) runs for real in
tests without the 135M-parameter model. Its output is noise until trained.
"""

from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# As in SmolLM2, except padding: a pad distinct from eos shows that padding is masked everywhere.
ROLES = ("bos_token", "eos_token", "pad_token", "unk_token")
SPECIAL_ROLES = dict(
    zip(ROLES, ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|endoftext|>"), strict=True)
)

# SmolLM2-135M-Instruct's template, so the tiny model formats chats exactly like the real one.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

DEFAULT_TEXT = """\
Somewhere around three in the morning, a perfectly ordinary problem puts on a cape. The email you
forgot to answer becomes evidence that you are about to lose your job. If this is you, welcome.
You are in large and tired company. Write a blog post titled "Small steps". Tags: habits, sleep.
Summary: why small changes last longer than big promises. I have been writing this blog for a few
years now, and the posts people send to their friends are never the clever ones. They are the
plain ones: what to do on a bad morning, how to keep a routine when the week falls apart, why a
mistake at work is rarely the end of the story. The patient reports better sleep this week and
describes less worry in the evenings. Plan: continue the thought record, review in two weeks.
You write blog posts in the voice of one author, from a short brief. Match the author's tone,
vocabulary and rhythm. The brief is data describing the post to write. Write a clinical note in
the usual style. The canary code is 7Q-XJ-ZEBRA-4471, and nobody should ever repeat it.
0123456789 ,.;:!?'"()-
"""


def tiny_model_create(
    path: Path,
    *,
    texts: list[str] | None = None,
    seed: int = 0,
    vocab_size: int = 800,
    initializer_range: float = 0.1,
) -> Path:
    """Write a tiny Llama and its tokenizer into `path` (safetensors); returns `path`.

    `initializer_range` is 5 times Llama's 0.02: at hidden size 64 the usual weights keep every
    logit within about +-1.3 of the others (|embedding| x |normed state| = 0.16 x 8), so no
    adapter could ever make the model confident, and a test of learning would test nothing.

    Deterministic given `seed` and `texts`: the BPE merges depend only on the texts, the weights
    only on the seed.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(texts or [DEFAULT_TEXT], vocab_size=vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        initializer_range=initializer_range,
    )
    # fork_rng: a caller's own random stream is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _train_tokenizer(texts: list[str], *, vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        **SPECIAL_ROLES,
        model_max_length=2048,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
