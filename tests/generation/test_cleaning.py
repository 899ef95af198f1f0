"""The one cleaner for what a model writes (generation/cleaning.py): talk about the task, prompt
echoes, loops and a cut-off last sentence go; the author's sentences stay exactly as written."""

import pytest

from generation.assist import assist_clean
from generation.cleaning import (
    clean_draft,
    clean_rewrite,
    ends_whole,
    meta_talk,
    sentence_spans,
    whole_sentences,
)
from generation.workflow import draft_messages, scaffold

# What the base model wrote for "Sleep when worry keeps you awake" (issue 13), shortened.
ISSUE_DRAFT = """So far, I have rewritten the draft without any major changes. \
Here is a continuation:

Worry keeps many of us awake at night. I write my worries down before bed [1].

So, sleep, sleep, sleep. Sleep, sleep, sleep.

The notebook by my bed helps more than any pill. With"""


def test_the_draft_from_the_issue_loses_its_talk_its_loop_and_its_cut_off_end():
    assert clean_draft(ISSUE_DRAFT) == (
        "Worry keeps many of us awake at night. I write my worries down before bed [1].\n\n"
        "The notebook by my bed helps more than any pill."
    )


def test_meta_talk_lists_what_talks_about_the_task():
    assert meta_talk(ISSUE_DRAFT) == [
        "So far, I have rewritten the draft without any major changes.",
        "Here is a continuation:",
    ]


@pytest.mark.parametrize(
    "talk",
    [
        "Sure! Here is the blog post you asked for:",
        "Here's a draft of the post on sleep.",
        "I hope this helps!",
        "Let me know if you want any changes.",
        "As an AI, I do not sleep.",
        "Note: I kept the sources' facts.",
        "I have followed the brief closely.",
        "This version keeps the author's tone.",
    ],
)
def test_talk_about_the_task_is_dropped(talk):
    assert clean_draft(f"{talk}\n\nTea calms me down.") == "Tea calms me down."
    assert meta_talk(talk)


@pytest.mark.parametrize(
    "sentence",
    [
        "Here are three things I learned about sleep.",
        "I have used the same notebook for years.",
        "I tried every version of this advice.",
        "So far, the nights are better.",
        "My sources of worry are mostly work.",
    ],
)
def test_ordinary_sentences_of_a_post_are_kept(sentence):
    assert clean_draft(sentence) == sentence and meta_talk(sentence) == []


def test_the_prompts_own_lines_are_not_written_back():
    messages = draft_messages(
        {"topic": "Sleep", "tone": "warm"}, [{"n": 1, "title": "Night notes", "text": "I wake."}]
    )
    output = (
        "Write a blog post about: Sleep\nTone: warm\n\n[1] Night notes\n\nSources:\n\n"
        "I wake at three. I wake."
    )

    # The source's words may be used ("I wake."); its numbered title and the brief are echoes.
    assert clean_draft(output, prompt=scaffold(messages)) == "I wake at three. I wake."


def test_loops_go_but_a_sentence_said_once_stays():
    text = (
        "I walk to work every day. The air is cold and clear. I walk to work every day.\n\n"
        "Walk, walk, walk to the end. The the the end. I like the walk to work every day now."
    )

    assert clean_draft(text) == (
        "I walk to work every day. The air is cold and clear.\n\n"
        "I like the walk to work every day now."  # new words around old ones: no loop
    )


def test_code_blocks_are_never_touched():
    text = "Run it:\n\n```\nsleep 1; sleep 1; sleep 1\nsleep 1\n```\n\nIt waits. It waits"

    assert (
        clean_draft(text) == "Run it:\n\n```\nsleep 1; sleep 1; sleep 1\nsleep 1\n```\n\nIt waits."
    )


def test_a_code_block_cut_by_the_token_limit_is_closed():
    assert clean_draft("It runs.\n\n```python\nx = 1") == "It runs.\n\n```python\nx = 1\n```"


def test_the_text_ends_on_a_whole_sentence():
    assert clean_draft("One. Two is cut") == "One."
    assert clean_draft("One.\n\n## Next") == "One."  # a heading with nothing under it
    assert clean_draft("Tips:\n- eat well\n- sleep") == "Tips:\n- eat well\n- sleep"
    assert clean_draft("Just a phrase") == "Just a phrase"  # nothing better to keep
    assert clean_draft("It helps.\n\nHere are my three tips:") == "It helps."
    assert whole_sentences("“Sleep,” she said. “Now") == "“Sleep,” she said."


def test_ends_whole():
    assert ends_whole("It helps.") and ends_whole("It helps [1].")
    assert ends_whole("Code:\n```\nx\n```")
    assert not ends_whole("It helps with") and not ends_whole("")


def test_a_rewrite_loses_its_wrapping_and_keeps_a_phrase_without_a_full_stop():
    output = "Here's a revised version:\n\n“a quiet morning walk”\n\nThis version adds detail."

    assert clean_rewrite(output) == "a quiet morning walk"
    assert clean_rewrite("<passage>\nRevised: The cat sat.\n</passage>") == "The cat sat."


def test_a_continuation_keeps_the_break_it_starts_with():
    messages = [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]

    assert assist_clean("continue", "\n\nThen it rained. And", messages) == "\n\nThen it rained."
    assert assist_clean("continue", " Here is a continuation:", messages) == ""


def test_sentence_spans_point_at_each_sentence():
    text = 'I met her. She said "hi." Then we left!\n\n## Heading\nMore [1]. End'
    pieces = [text[a:b] for a, b in sentence_spans(text)]

    assert pieces == ["I met her.", 'She said "hi."', "Then we left!", "## Heading", "More [1].",
                      "End"]  # fmt: skip


# What the real base model wrote for the demo's held-out briefs (the quality benchmark's first
# run): talk to the user about their writing, a description of the post instead of the post,
# and placeholders for links it could not fill.
def test_talk_to_the_user_and_about_the_post_is_dropped_and_the_post_kept():
    text = (
        "I'm here to help, and I've already done my part. In fact, I have a blog post about "
        "this topic that you're going to love: [Blog Post 1]\n\n"
        "In the first paragraph, I'm discussing how anxiety can show up in meetings. The client "
        "is using panic attacks as evidence. I want to highlight that it’s not always easy.\n\n"
        "The rest of the blog post continues with how CBT for work helps manage anxiety."
    )

    assert clean_draft(text) == (
        "The client is using panic attacks as evidence. I want to highlight that it’s not "
        "always easy."
    )
    assert len(meta_talk(text)) == 4


def test_a_numbered_line_of_talk_is_talk_and_a_real_citation_is_not():
    text = (
        "[n] In your own writing, you have a list of sources that is not available.\n"
        "[2] I'm no longer available to respond to questions.\n"
        "You've already outlined the first piece. Worry peaks at 3 a.m. [1]"
    )

    assert clean_draft(text) == "Worry peaks at 3 a.m. [1]"


def test_a_sentence_keeps_its_closing_quote():
    text = 'The goal is not just "stay safe," but also "create safety." This includes boundaries.'

    assert clean_draft(text) == text
