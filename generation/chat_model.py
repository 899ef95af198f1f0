"""The runtime as a LangChain chat model, so standard LangChain pieces compose with it.

`RuntimeChatModel(runtime=get_runtime(...), adapter=("general:v3", path))` answers `invoke`,
`stream` and `batch` like any chat model. Stop sequences cut the text at the first one (and end a
stream there). Figures from the runtime (tokens, time to first token, tokens/s, finish reason)
are in `response_metadata` and `usage_metadata`.
"""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict

from generation.runtime import Runtime, SamplingSettings

ROLES = {"system": "system", "human": "user", "ai": "assistant"}


def to_chat(messages: list[BaseMessage]) -> list[dict]:
    """LangChain messages as the {role, content} list a chat template takes."""
    chat = []
    for message in messages:
        role = ROLES.get(message.type)
        if role is None:
            raise ValueError(
                f"The model takes system, human and AI messages, not {message.type!r}."
            )
        chat.append({"role": role, "content": message.text})
    return chat


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """`text` up to the first stop sequence, and whether one was found."""
    ends = [text.find(s) for s in stop or () if s and s in text]
    return (text[: min(ends)], True) if ends else (text, False)


class RuntimeChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    runtime: Runtime
    adapter: tuple[str, Path] | None = None
    sampling: SamplingSettings = SamplingSettings()

    @property
    def _llm_type(self) -> str:
        return "blogllm-runtime"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "base_model": self.runtime.base_model,
            "adapter": self.adapter[0] if self.adapter else None,
            **self.sampling.to_dict(),
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        result = self.runtime.generate(to_chat(messages), self.sampling, adapter=self.adapter)
        text, stopped = cut_at_stop(result.text, stop)
        meta = {
            "finish_reason": "stop" if stopped else result.finish_reason,
            "first_token_s": result.first_token_s,
            "tokens_per_s": result.tokens_per_s,
            "seconds": result.seconds,
            "adapter": result.adapter,
        }
        usage = {
            "input_tokens": result.prompt_tokens,
            "output_tokens": result.new_tokens,
            "total_tokens": result.prompt_tokens + result.new_tokens,
        }
        message = AIMessage(content=text, response_metadata=meta, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        cancel = threading.Event()
        # A stop sequence may arrive split across pieces: hold back a tail as long as the
        # longest one, minus a character, until the next piece shows whether it completes.
        hold = max((len(s) - 1 for s in stop or () if s), default=0)
        buffer, sent = "", 0
        for piece in self.runtime.stream(
            to_chat(messages), self.sampling, adapter=self.adapter, cancel=cancel
        ):
            buffer += piece
            text, stopped = cut_at_stop(buffer, stop)
            end = len(text) if stopped else len(buffer) - hold
            if end > sent:
                yield self._chunk(buffer[sent:end], run_manager)
                sent = end
            if stopped:
                cancel.set()  # the runtime stops generating at its next token
                return
        if len(buffer) > sent:
            yield self._chunk(buffer[sent:], run_manager)

    @staticmethod
    def _chunk(text: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
        if run_manager is not None:
            run_manager.on_llm_new_token(text, chunk=chunk)
        return chunk
