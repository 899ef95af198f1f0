"""Within one drafting run the brief is retrieved once: revise rounds go back to the guard, never
to retrieval, so its sources (and the cached embeddings of their texts) serve every round."""

import uuid

from langgraph.checkpoint.memory import InMemorySaver

from generation.workflow import Steps, build_graph


class Recorder:
    def __init__(self) -> None:
        self.nodes: list[str] = []

    def record(self, node: str, *, input: dict, output: dict, seconds: float) -> None:  # noqa: A002
        self.nodes.append(node)


def test_a_run_with_revise_rounds_retrieves_its_brief_once():
    queries, scored = [], []
    drafts = iter(["", "Tea calms me. Call 555-201-3344 after four."])  # empty, then a leak

    def check(text: str) -> list[dict]:
        if not text.strip():
            return [{"kind": "structure", "start": 0, "end": 0, "detail": "empty"}]
        at = text.find("555")
        return [{"kind": "phi", "start": at, "end": at + 12, "detail": "phone"}] if at >= 0 else []

    steps = Steps(
        retrieve=lambda query: queries.append(query) or [{"text": f"On {query}", "title": "T"}],
        write=lambda messages: next(drafts),
        check=check,
        finalise=lambda state: {},
        max_revisions=2,
        rewrite=lambda messages, limit: "Write to me any time.",
        score=lambda draft, sources: scored.append([s["text"] for s in sources]) or 0.0,
    )
    recorder = Recorder()
    graph = build_graph(steps, recorder).compile(checkpointer=InMemorySaver())

    state = graph.invoke(
        {"brief": {"topic": "tea"}}, {"configurable": {"thread_id": str(uuid.uuid4())}}
    )

    # Two rounds: the empty draft written again whole, then the phone sentence rewritten.
    assert recorder.nodes == [
        "retrieve", "draft", "guard", "revise", "guard", "revise", "guard", "finalise"
    ]  # fmt: skip
    assert state["revisions"] == 2 and "555" not in state["draft"]
    assert queries == ["tea"]
    # Each round scored against the same retrieved sources, not a fresh retrieval.
    assert scored and all(texts == ["On tea"] for texts in scored)
