"""The runtime as a LangChain chat model: invoke, stream, stop sequences, figures, and
composition with a standard prompt template."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate

from generation.chat_model import RuntimeChatModel, cut_at_stop, to_chat
from generation.runtime import SamplingSettings

SEEDED = SamplingSettings(max_new_tokens=24, seed=7)
MESSAGES = [SystemMessage("You write blog posts."), HumanMessage("Write about tea.")]


def test_messages_become_the_chat_templates_roles():
    chat = to_chat([*MESSAGES, AIMessage("Tea is calm.")])

    assert [m["role"] for m in chat] == ["system", "user", "assistant"]
    with pytest.raises(ValueError, match="not 'tool'"):
        to_chat([ToolMessage("x", tool_call_id="1")])


def test_invoke_returns_the_runtimes_text_with_its_figures(runtime):
    model = RuntimeChatModel(runtime=runtime, sampling=SEEDED)

    message = model.invoke(MESSAGES)

    expected = runtime.generate(to_chat(MESSAGES), SEEDED).text
    assert message.content == expected
    assert message.usage_metadata["output_tokens"] > 0
    assert message.response_metadata["finish_reason"] in ("stop", "length")
    assert message.response_metadata["tokens_per_s"] > 0


def test_streamed_chunks_join_to_the_invoked_text(runtime):
    model = RuntimeChatModel(runtime=runtime, sampling=SEEDED)

    chunks = [chunk.content for chunk in model.stream(MESSAGES)]

    assert len(chunks) > 1 and "".join(chunks) == model.invoke(MESSAGES).content


def test_a_stop_sequence_cuts_the_text_also_when_streaming(runtime):
    model = RuntimeChatModel(runtime=runtime, sampling=SEEDED)
    full = model.invoke(MESSAGES).content
    stop = full[len(full) // 2 : len(full) // 2 + 3]  # three characters from the middle
    assert stop and stop in full

    invoked = model.invoke(MESSAGES, stop=[stop])
    streamed = "".join(chunk.content for chunk in model.stream(MESSAGES, stop=[stop]))

    assert invoked.content == full[: full.index(stop)] == streamed
    assert invoked.response_metadata["finish_reason"] == "stop"


def test_it_composes_with_a_standard_prompt_template(runtime):
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You write blog posts."), ("human", "Write about {topic}.")]
    )
    chain = prompt | RuntimeChatModel(runtime=runtime, sampling=SEEDED)

    assert (
        chain.invoke({"topic": "tea"}).content
        == RuntimeChatModel(runtime=runtime, sampling=SEEDED).invoke(MESSAGES).content
    )


def test_cut_at_stop_takes_the_earliest_stop():
    assert cut_at_stop("one. two! three", [" three", "!"]) == ("one. two", True)
    assert cut_at_stop("no stop here", ["zzz"]) == ("no stop here", False)
    assert cut_at_stop("text", None) == ("text", False)
