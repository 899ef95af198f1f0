"""Corpus cleaning: plain functions, no database."""

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from posts.corpus import (
    CleanResult,
    ContactFinding,
    MinHasher,
    clean_text,
    content_hash,
    estimated_jaccard,
    find_contact_details,
    near_duplicate_pairs,
    shingles,
    split_for,
)

ROOT = Path(__file__).resolve().parents[2]

WORDPRESS_POST = """\
# A week in Lyon

I donâ€™t usually write about food, but the cafÃ© on Rue Mercière changed my mind.
The owner told me: â€œCome back tomorrow, weâ€™ll have the tarte.â€\x9d

We went back.

---

### Share this:

- [Twitter](https://janedoe.blog/lyon/?share=twitter "Click to share on Twitter")
- [Facebook](https://janedoe.blog/lyon/?share=facebook "Click to share on Facebook")
- [Email](https://janedoe.blog/lyon/?share=email "Click to email a link to a friend")

### Like this:

Like Loading...

### Related

[Three days in Rome](https://janedoe.blog/rome/)
March 3, 2019
In "Travel"

[Why I stopped counting calories](https://janedoe.blog/calories/)
April 1, 2019
In "Food"

Posted in [Travel](https://janedoe.blog/c/travel/) | Tagged [Lyon](https://janedoe.blog/t/lyon/)

© 2019 Jane Doe. All rights reserved.
"""

WORDPRESS_POST_CLEANED = """\
# A week in Lyon

I don't usually write about food, but the café on Rue Mercière changed my mind.
The owner told me: "Come back tomorrow, we'll have the tarte."

We went back."""


# --- clean_text: the whole pipeline ----------------------------------------------------------


def test_clean_text_turns_a_wordpress_export_into_the_authors_words_only() -> None:
    result = clean_text(WORDPRESS_POST)

    assert result == CleanResult(
        text=WORDPRESS_POST_CLEANED,
        changes=(
            "repaired mojibake and encoding",
            "removed share buttons",
            "removed like buttons",
            "removed related posts",
            "removed post metadata",
            "removed copyright footer",
            "removed a dangling horizontal rule",
            "normalised quotes",
        ),
    )


def test_clean_text_reports_no_changes_for_a_post_that_is_already_clean() -> None:
    assert clean_text(WORDPRESS_POST_CLEANED + "\n") == CleanResult(WORDPRESS_POST_CLEANED, ())


def test_clean_text_is_idempotent() -> None:
    once = clean_text(WORDPRESS_POST).text

    assert clean_text(once) == CleanResult(once, ())


# --- Step 1: encoding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "repaired"),
    [
        ("I donâ€™t mind.", "I don't mind."),
        ("The cafÃ© was closed.", "The café was closed."),
        ("A naÃ¯ve rÃ©sumÃ©.", "A naïve résumé."),
    ],
)
def test_clean_text_repairs_real_mojibake(broken: str, repaired: str) -> None:
    result = clean_text(broken)

    assert result.text == repaired
    assert result.changes[0] == "repaired mojibake and encoding"


def test_clean_text_composes_decomposed_accents_to_nfc() -> None:
    assert clean_text("cafe\u0301 au lait").text == "caf\u00e9 au lait"


def test_clean_text_turns_windows_line_endings_into_newlines() -> None:
    result = clean_text("First line.\r\nSecond line.\r\n")

    assert result == CleanResult("First line.\nSecond line.", ("normalised line endings",))


def test_clean_text_keeps_curly_quotes_for_step_four_to_report() -> None:
    # ftfy would uncurl quotes itself; step 1 must not, so the change is named for what it is.
    assert clean_text("“Yes,” she said.").changes == ("normalised quotes",)


# --- Step 2: invisible characters ------------------------------------------------------------


def test_clean_text_removes_zero_width_characters_byte_order_marks_and_soft_hyphens() -> None:
    text = "Zero\u200bwidth, word\u2060joiner, in\ufefftext, hyphen\u00adation and pass\u200dword."

    result = clean_text(text)

    assert result.text == "Zerowidth, wordjoiner, intext, hyphenation and password."
    assert "removed invisible characters" in result.changes


def test_clean_text_keeps_the_zero_width_joiner_inside_an_emoji_family() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"

    assert clean_text(f"My {family} went to Lyon.").text == f"My {family} went to Lyon."


def test_clean_text_turns_non_breaking_and_other_unicode_spaces_into_plain_spaces() -> None:
    text = "Price:\u00a010\u202fEUR, ten\u2009km, wide\u3000space\u2003here."

    result = clean_text(text)

    assert result.text == "Price: 10 EUR, ten km, wide space here."
    assert "replaced non-breaking and other Unicode spaces" in result.changes


# --- Step 3: boilerplate ---------------------------------------------------------------------


def test_clean_text_removes_a_related_posts_heading_with_its_list_of_links() -> None:
    text = (
        "I finally finished the quilt.\n\n"
        "## You might also like\n\n"
        "- [How I pick fabric](https://janedoe.blog/fabric/)\n"
        "- [My first quilt](https://janedoe.blog/first-quilt/)\n\n"
        "Thanks for reading.\n"
    )

    result = clean_text(text)

    assert result.text == "I finally finished the quilt.\n\nThanks for reading."
    assert result.changes == ("removed related posts", "collapsed blank lines")


def test_clean_text_keeps_a_related_heading_that_introduces_prose() -> None:
    text = "## Related\n\nRelated work on this topic is thin, so I read the papers myself."

    assert clean_text(text).text == text


@pytest.mark.parametrize(
    ("line", "change"),
    [
        ("Share on Facebook | Share on X | Pin it", "removed share buttons"),
        ("[Tweet](https://twitter.com/share)", "removed share buttons"),
        ("**Pin it**", "removed share buttons"),
        ("Click to share on LinkedIn (Opens in new window)", "removed share buttons"),
        (
            "[](https://www.facebook.com/sharer/sharer.php?u=x) [](https://x.com/intent/post?u=x)",
            "removed share buttons",
        ),
        ("Like Loading...", "removed like buttons"),
        (
            "Subscribe to my newsletter for a weekly letter on slow travel!",
            "removed newsletter prompt",
        ),
        (
            "Enter your email address to subscribe to this blog and receive notifications.",
            "removed newsletter prompt",
        ),
        ("Posted in Travel, Food | Tagged Lyon, cheese | 3 Comments", "removed post metadata"),
        ("Filed under: Travel, Italy", "removed post metadata"),
        ("Leave a comment", "removed comment links"),
        ("12 Comments", "removed comment links"),
        ("© 2019 Jane Doe. All rights reserved.", "removed copyright footer"),
        ("Copyright © 2015–2023 Jane Doe", "removed copyright footer"),
        ("Read more »", "removed read-more links"),
        ("[Continue reading →](https://janedoe.blog/rome/)", "removed read-more links"),
        ("Continue reading “Why I left Rome” →", "removed read-more links"),
    ],
)
def test_clean_text_removes_a_boilerplate_line(line: str, change: str) -> None:
    result = clean_text(f"The post itself.\n\n{line}\n\nThe last paragraph.")

    assert result.text == "The post itself.\n\nThe last paragraph."
    assert result.changes[0] == change


def test_clean_text_removes_a_lone_share_this_line_at_the_end_of_a_post() -> None:
    result = clean_text("Thanks for reading.\n\n**Share this:**\n")

    assert result.text == "Thanks for reading."
    assert result.changes[0] == "removed share buttons"


def test_clean_text_keeps_a_share_this_line_that_introduces_the_authors_own_words() -> None:
    # Platforms append "Share this:" after the post; followed by prose, it is the author's.
    text = "Share this:\n\nKindness costs nothing and it is never wasted."

    assert clean_text(text).text == text


def test_clean_text_removes_a_footer_whose_lines_only_stand_alone_together() -> None:
    # "Related" counts as a related-posts heading only once the copyright line between it and
    # the link is gone: removal repeats until nothing changes, so a second cleaning finds nothing.
    text = "Body text.\n\nRelated\n\n© 2019 Jane Doe\n\n[Rome](https://janedoe.blog/rome/)\n"

    result = clean_text(text)

    assert result.text == "Body text."
    assert result.changes[:2] == ("removed copyright footer", "removed related posts")


def test_clean_text_keeps_a_paragraph_that_mentions_sharing() -> None:
    text = (
        "Please share this with anyone who is caring for a parent. Share on Facebook if you\n"
        "must, but a phone call is better: tweet less, talk more. I like this approach.\n\n"
        "Sharing is how I learned. Related: my mother never read more than a page a day."
    )

    assert clean_text(text) == CleanResult(text, ())


def test_clean_text_keeps_a_wrapped_paragraph_line_that_reads_like_metadata() -> None:
    # The first line alone would match "Posted in ..." but it continues on the next line.
    text = "Posted in 2019 at the height of the crisis, my essay\nsaid nothing about money."

    assert clean_text(text).text == text


def test_clean_text_keeps_an_item_of_the_authors_own_list_that_reads_like_a_button() -> None:
    text = "Things I did today:\n\n- Walk\n- Tweet\n- Sleep"

    assert clean_text(text).text == text


def test_clean_text_keeps_a_related_heading_followed_by_a_sentence_that_starts_with_a_link() -> (
    None
):
    text = "## Related\n\n[My earlier post](https://janedoe.blog/method/) explains the method."

    assert clean_text(text).text == text


def test_clean_text_keeps_like_this_before_a_code_example() -> None:
    # "Like this:" is only a like button when nothing but boilerplate or the end follows it.
    text = "You call the function once.\n\nLike this:\n\n```python\nresult = clean()\n```"

    assert clean_text(text).text == text


def test_clean_text_never_removes_boilerplate_lookalikes_inside_code_blocks() -> None:
    text = "Footer template:\n\n```html\nShare this:\nLeave a comment\n© 2019 Jane Doe\n```"

    assert clean_text(text).text == text


# --- Step 4: quotes and whitespace -----------------------------------------------------------


def test_clean_text_straightens_curly_quotes_and_keeps_apostrophes_right() -> None:
    text = "“It’s the ‘best’ café of the ’90s,” she said. Don´t argue."

    result = clean_text(text)

    assert result.text == "\"It's the 'best' café of the '90s,\" she said. Don't argue."
    assert result.changes == ("normalised quotes",)


def test_clean_text_spells_out_ellipses_and_keeps_en_and_em_dashes() -> None:
    result = clean_text("Pages 10–12 — and then… nothing.")

    assert result == CleanResult(
        "Pages 10–12 — and then... nothing.", ("replaced ellipsis characters",)
    )


def test_clean_text_strips_trailing_spaces_including_markdown_hard_breaks() -> None:
    # Two trailing spaces are a Markdown hard break; stripping them makes a soft break (documented).
    result = clean_text("Roses are red,  \nviolets are blue. \n")

    assert result == CleanResult("Roses are red,\nviolets are blue.", ("stripped trailing spaces",))


def test_clean_text_replaces_tabs_in_prose_and_keeps_leading_tabs_as_indentation() -> None:
    text = "- Shopping\n\t- bread\tand\tbutter"

    assert clean_text(text).text == "- Shopping\n    - bread and butter"


def test_clean_text_collapses_runs_of_blank_lines_to_one() -> None:
    result = clean_text("\n\nOne.\n\n\n\n\nTwo.\n\n\nThree.\n\n\n")

    assert result == CleanResult(
        "One.\n\nTwo.\n\nThree.",
        ("collapsed blank lines", "stripped leading and trailing whitespace"),
    )


# --- Code is left alone ----------------------------------------------------------------------


CODE_BLOCKS = """\
Before the code.

```python
def greet():\t# “tab” here…
    print("hi\u00a0there\u200b")   


    return ‘x’
```

~~~
Share this:
~~~
"""


def test_clean_text_leaves_fenced_code_blocks_exactly_as_they_were() -> None:
    # Curly quotes, an ellipsis, a tab, a no-break space, a zero-width space, trailing spaces and
    # a double blank line: all would be rewritten in prose, none may change inside a fence.
    assert clean_text(CODE_BLOCKS) == CleanResult(CODE_BLOCKS.removesuffix("\n"), ())


def test_clean_text_leaves_inline_code_spans_alone_but_fixes_the_prose_around_them() -> None:
    text = "Call `print(“a”…)` or ``say(`x`)\t“b”`` and “quote” it."

    result = clean_text(text)

    assert result.text == 'Call `print(“a”…)` or ``say(`x`)\t“b”`` and "quote" it.'


def test_clean_text_repairs_mojibake_inside_code_blocks() -> None:
    # The one step code does see: a broken encoding is broken everywhere.
    text = "```\nprint('cafÃ©')\n```"

    assert clean_text(text).text == "```\nprint('café')\n```"


def test_clean_text_treats_an_unclosed_fence_as_code_to_the_end() -> None:
    text = "Intro.\n\n```\nprint(“a”)\t\n\n\nShare this:"

    assert clean_text(text).text == text


# --- content_hash and shingles ---------------------------------------------------------------


def test_content_hash_is_equal_for_whitespace_quote_and_case_variants() -> None:
    original = "It’s a “quiet” café.\n\nWe   stayed\ttwo nights."
    variant = 'it\'s a "quiet" CAFÉ. We stayed two nights.  \n'

    assert content_hash(original) == content_hash(variant)
    assert len(content_hash(original)) == 64


def test_content_hash_differs_for_different_text() -> None:
    assert content_hash("We stayed two nights.") != content_hash("We stayed three nights.")


def test_shingles_are_word_k_grams_of_the_normalised_text() -> None:
    assert shingles("The cat, the HAT!", k=2) == {"the cat", "cat the", "the hat"}


def test_shingles_of_a_text_shorter_than_k_words_are_empty() -> None:
    assert shingles("Only four words here") == set()


# --- MinHash and near duplicates -------------------------------------------------------------


_VOCABULARY = (
    "garden morning coffee bread river train window winter summer letter mother father city "
    "market street music paint cloth wool needle book chapter story friend neighbour village "
    "mountain harbour bridge tower kitchen table chair lamp candle basket apple pear cherry "
    "onion butter cheese walk climb swim read write sing cook bake sew knit plant carry build "
    "quiet bright slow early late warm cold green blue golden small tall old new simple strange "
    "always never often slowly together alone again almost perhaps because although while after"
)
_WORDS = _VOCABULARY.split()


def _sentences(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(12, 18))).capitalize() + "."
        for _ in range(count)
    ]


def _post(seed: int, count: int = 40) -> str:
    return " ".join(_sentences(seed, count))


def _true_jaccard(a: str, b: str) -> float:
    first, second = shingles(a), shingles(b)
    return len(first & second) / len(first | second)


@pytest.mark.parametrize("shared", [8, 20, 30, 36])
def test_minhash_estimates_jaccard_within_a_tenth(shared: int) -> None:
    # The second post keeps the first `shared` of 40 sentences and replaces the rest.
    first = _sentences(seed=1, count=40)
    second = first[:shared] + _sentences(seed=2, count=40 - shared)
    a, b = " ".join(first), " ".join(second)
    hasher = MinHasher()

    estimate = estimated_jaccard(hasher.signature(a), hasher.signature(b))

    assert abs(estimate - _true_jaccard(a, b)) <= 0.1


def test_minhash_signatures_are_identical_across_two_instances() -> None:
    text = _post(seed=3)

    assert MinHasher().signature(text) == MinHasher().signature(text)
    assert len(MinHasher().signature(text)) == 128


def test_minhash_signatures_depend_on_the_seed() -> None:
    text = _post(seed=3)

    assert MinHasher(seed=1).signature(text) != MinHasher(seed=2).signature(text)


@pytest.fixture(scope="module")
def fresh_process() -> dict[str, object]:
    """What a separate interpreter, with another str-hash salt, computes and imports."""
    code = (
        "import json, sys\n"
        "from posts.corpus import MinHasher\n"
        f"signature = MinHasher().signature({_post(seed=3)!r})\n"
        "print(json.dumps({'signature': signature, 'django': 'django' in sys.modules}))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True, text=True
    )
    return json.loads(out.stdout)


def test_minhash_signatures_are_identical_in_a_fresh_process(fresh_process: dict) -> None:
    assert tuple(fresh_process["signature"]) == MinHasher().signature(_post(seed=3))


def test_importing_the_corpus_module_loads_no_django(fresh_process: dict) -> None:
    assert fresh_process["django"] is False


def test_near_duplicate_pairs_finds_an_edited_copy_and_no_unrelated_posts() -> None:
    original = _sentences(seed=10, count=40)
    edited = list(original)
    edited[5] = "I changed my mind about the garden and planted onions instead of roses."
    edited[22] = "The bridge was closed, so we took the slow train along the river."
    posts = {"original": " ".join(original), "edited": " ".join(edited)}
    posts |= {f"unrelated-{seed}": _post(seed) for seed in range(20, 30)}
    hasher = MinHasher()

    pairs = near_duplicate_pairs({key: hasher.signature(text) for key, text in posts.items()})

    assert [(a, b) for a, b, _ in pairs] == [("edited", "original")]
    assert pairs[0][2] >= 0.8


def test_near_duplicate_pairs_lists_each_pair_once_with_keys_in_sort_order() -> None:
    text = _post(seed=4)
    signature = MinHasher().signature(text)

    pairs = near_duplicate_pairs({3: signature, 1: signature, 2: signature})

    assert pairs == [(1, 2, 1.0), (1, 3, 1.0), (2, 3, 1.0)]


def test_near_duplicate_pairs_never_match_texts_shorter_than_k_words() -> None:
    hasher = MinHasher()
    signatures = {"a": hasher.signature("Thanks!"), "b": hasher.signature("Thanks!")}

    assert near_duplicate_pairs(signatures) == []
    assert estimated_jaccard(signatures["a"], signatures["b"]) == 0.0


def test_near_duplicate_pairs_rejects_bands_that_do_not_divide_the_signature() -> None:
    signature = MinHasher().signature(_post(seed=4))

    with pytest.raises(ValueError, match="bands"):
        near_duplicate_pairs({1: signature, 2: signature}, bands=30)


# --- Contact details -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Write to jane.doe@example.com today.", "jane.doe@example.com"),
        ("[mail me](mailto:j.doe+blog@mail.example.org).", "j.doe+blog@mail.example.org"),
        ("Reach me at jane [at] example [dot] com.", "jane [at] example [dot] com"),
        ("jane.doe(at)uni-heidelberg(dot)de", "jane.doe(at)uni-heidelberg(dot)de"),
        ("Or jane {at} example.co.uk", "jane {at} example.co.uk"),
    ],
)
def test_find_contact_details_flags_email_addresses(text: str, found: str) -> None:
    assert [(f.kind, f.text) for f in find_contact_details(text)] == [("email", found)]


@pytest.mark.parametrize(
    "phone",
    [
        "(555) 123-4567",
        "555-123-4567",
        "555.123.4567",
        "+1 555 123 4567",
        "+1 (555) 123-4567",
        "1-800-555-1234",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+49 30 1234567",
        "+33 1 23 45 67 89",
        "020 7946 0958",
        "0121 496 0000",
        "+15551234567",
    ],
)
def test_find_contact_details_flags_phone_numbers(phone: str) -> None:
    text = f"Call me on {phone}, any time."

    assert [(f.kind, f.text) for f in find_contact_details(text)] == [("phone", phone)]


def test_find_contact_details_flags_the_number_in_a_tel_link() -> None:
    assert find_contact_details("[Call us](tel:+442079460958)") == [
        ContactFinding(kind="phone", start=14, end=27, text="+442079460958")
    ]


def test_find_contact_details_reports_positions_in_order() -> None:
    text = "Phone 555-123-4567 or mail jane@example.com."

    findings = find_contact_details(text)

    assert [(f.kind, f.text) for f in findings] == [
        ("phone", "555-123-4567"),
        ("email", "jane@example.com"),
    ]
    assert all(text[f.start : f.end] == f.text for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        "In 2019 I moved to Lyon.",
        "I lived there 2019-2021 and again 2005–2010.",
        "We met on 2021-03-14, or 03/14/2021 as Americans write it, or 14.03.2021.",
        "The train left at 10:30 and arrived at 14:45:10.",
        "The flat cost $1,250.00 a month, 12.5% more than last year.",
        "ISBN 978-3-16-148410-0, ISBN 0-306-40615-2 and ISBN 9783161484100.",
        "Upgrade to version 10.0.19041 or v2.3.1 first.",
        "Generalised anxiety disorder is F41.1 in ICD-10.",
        "This post is 1200 words long, 1 200 000 views later.",
        "Chapter 7, page 42, step 3 of 12.",
        "The icon is logo@2x.png; follow @janedoe for more.",
    ],
)
def test_find_contact_details_ignores_numbers_that_are_not_contact_details(text: str) -> None:
    assert find_contact_details(text) == []


@pytest.mark.parametrize(
    "soup",
    [
        "".join(random.Random(7).choice("0123456789 -.") for _ in range(100_000)),
        "1-" * 50_000,
        "12." * 33_334,
        "+1 " * 33_334,
        "5" * 100_000,
        "a.b-" * 25_000,
        "a [at] b [dot] " * 7_143,
    ],
    ids=["random", "dashes", "dots", "plus", "digits", "email-like", "obfuscated"],
)
def test_find_contact_details_runs_in_linear_time_on_100000_characters(soup: str) -> None:
    started = time.perf_counter()
    find_contact_details(soup)
    elapsed = time.perf_counter() - started

    # Measured at about 0.1 s; catastrophic backtracking would take minutes.
    assert elapsed < 0.5


# --- split_for -------------------------------------------------------------------------------


def test_split_for_is_deterministic() -> None:
    assert [split_for("post-42") for _ in range(3)] == [split_for("post-42")] * 3
    assert split_for("post-42") in {"train", "validation"}


def test_split_for_puts_about_ten_percent_of_keys_in_validation() -> None:
    splits = [split_for(f"post-{number}") for number in range(10_000)]

    assert 0.08 <= splits.count("validation") / len(splits) <= 0.12


def test_split_for_never_moves_an_existing_key_when_posts_are_added() -> None:
    before = {f"post-{n}": split_for(f"post-{n}") for n in range(1_000)}
    after = {f"post-{n}": split_for(f"post-{n}") for n in range(5_000)}

    assert {key: after[key] for key in before} == before


def test_split_for_raising_the_fraction_only_moves_keys_into_validation() -> None:
    keys = [f"post-{n}" for n in range(2_000)]
    small = {key for key in keys if split_for(key, 0.1) == "validation"}
    large = {key for key in keys if split_for(key, 0.3) == "validation"}

    assert small < large


@pytest.mark.parametrize("fraction", [-0.1, 0.51, 1.0])
def test_split_for_rejects_fractions_outside_zero_to_one_half(fraction: float) -> None:
    with pytest.raises(ValueError, match="validation_fraction"):
        split_for("post-1", fraction)
