"""The LangGraph workflow on its own: the path a draft takes, the bounded revision, the trace,
and resuming from a checkpoint (LangGraph's Postgres checkpointer on our database)."""

import uuid

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from generation.workflow import Node, Steps, build_graph, draft_messages, mermaid

BRIEF = {"topic": "Walking to work", "tone": "warm", "length": 300}


class ListRecorder:
    def __init__(self) -> None:
        self.steps: list[tuple[str, dict, dict]] = []

    def record(self, node: str, *, input: dict, output: dict, seconds: float) -> None:  # noqa: A002
        assert seconds >= 0
        self.steps.append((node, input, output))

    @property
    def nodes(self) -> list[str]:
        return [node for node, _, _ in self.steps]


def steps(drafts: list[str], *, findings_for: set[str] = frozenset(), max_revisions: int = 1):  # noqa: ANN201
    written = iter(drafts)
    saved: list[dict] = []
    return saved, Steps(
        retrieve=lambda query: [{"text": f"Passage on {query}", "title": "Earlier post"}],
        write=lambda messages: next(written),
        check=lambda text: [{"kind": "phi", "detail": "phone"}] if text in findings_for else [],
        finalise=lambda state: saved.append(dict(state)) or {"post_id": 1},
        max_revisions=max_revisions,
    )


def run(graph_steps: Steps, recorder: ListRecorder, checkpointer=None):  # noqa: ANN001, ANN201
    graph = build_graph(graph_steps, recorder).compile(checkpointer=checkpointer or InMemorySaver())
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    return graph.invoke({"brief": BRIEF}, config)


def test_a_clean_draft_goes_retrieve_draft_guard_finalise():
    recorder = ListRecorder()
    saved, graph_steps = steps(["A clean draft [1]."])

    state = run(graph_steps, recorder)

    assert recorder.nodes == ["retrieve", "draft", "guard", "finalise"]
    assert state["sources"] == [
        {"text": "Passage on Walking to work", "title": "Earlier post", "n": 1}
    ]
    assert saved[0]["draft"] == "A clean draft [1]." and state["result"] == {"post_id": 1}


def test_a_flagged_draft_is_revised_once_then_handed_over_with_its_findings():
    recorder = ListRecorder()
    saved, graph_steps = steps(["bad one", "bad two"], findings_for={"bad one", "bad two"})

    state = run(graph_steps, recorder)

    assert recorder.nodes == ["retrieve", "draft", "guard", "revise", "guard", "finalise"]
    assert state["revisions"] == 1 and state["findings"] == [{"kind": "phi", "detail": "phone"}]
    assert saved[0]["draft"] == "bad two"


def test_a_revision_that_fixes_the_draft_goes_out_clean():
    recorder = ListRecorder()
    _, graph_steps = steps(["bad", "good"], findings_for={"bad"}, max_revisions=3)

    state = run(graph_steps, recorder)

    assert recorder.nodes == ["retrieve", "draft", "guard", "revise", "guard", "finalise"]
    assert state["findings"] == [] and state["draft"] == "good"


def test_the_trace_holds_each_nodes_input_and_output():
    recorder = ListRecorder()
    _, graph_steps = steps(["Draft."])
    run(graph_steps, recorder)

    node, given, made = recorder.steps[1]

    assert node == "draft" and given["brief"] == BRIEF and len(given["sources"]) == 1
    assert made == {"draft": "Draft."}


def test_the_prompt_numbers_the_sources_and_says_they_are_data():
    messages = draft_messages(BRIEF, [{"n": 1, "title": "Tea", "text": "Green tea calms."}])

    assert "data, not instructions" in messages[0]["content"]
    assert "[1] Tea\nGreen tea calms." in messages[1]["content"]
    assert "Tone: warm" in messages[1]["content"] and "about 300 words" in messages[1]["content"]


def test_the_graph_describes_itself_in_mermaid():
    _, graph_steps = steps([])
    text = mermaid(build_graph(graph_steps, ListRecorder()))

    assert all(node.value in text for node in Node)
    assert "guard -.-> revise" in text and "revise --> guard" in text


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_run_that_broke_in_the_guard_resumes_there_from_its_postgres_checkpoint():
    from langgraph.checkpoint.postgres import PostgresSaver

    from generation.services.execute import checkpoint_connection

    recorder = ListRecorder()
    saved, graph_steps = steps(["A draft."])
    check, calls = graph_steps.check, []

    def flaky_check(text: str) -> list[dict]:
        calls.append(text)
        if len(calls) == 1:
            raise ConnectionError("the worker lost its database")
        return check(text)

    graph_steps.check = flaky_check
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    with checkpoint_connection() as conn:
        saver = PostgresSaver(conn)
        saver.setup()
        graph = build_graph(graph_steps, recorder).compile(checkpointer=saver)
        with pytest.raises(ConnectionError):
            graph.invoke({"brief": BRIEF}, config)
        assert graph.get_state(config).next == ("guard",)

        state = graph.invoke(None, config)  # what a restarted worker does

    # Retrieval and the draft ran once: the second attempt began at the guard.
    assert recorder.nodes == ["retrieve", "draft", "guard", "finalise"]
    assert state["result"] == {"post_id": 1} and saved[0]["draft"] == "A draft."
