"""Importing a 10,000-post WordPress export: posts/s end to end, and whether memory stays bounded.

The export is generated into a temp dir: WXR 1.2 as WordPress writes it, with 10,000 items of
type post (`BENCH_IMPORT_POSTS` changes the number) plus attachments, pages and menu items to
skip, some drafts and trashed posts, comments and postmeta. Bodies are 300-1,200 words of HTML
(Gutenberg block markup for most posts, classic-editor text without <p> for the rest, some
[caption] shortcodes and images), recombined from the paragraphs, lists and headings of the 44
demo posts: each post mixes paragraphs of a theme post and two others, shuffles, drops and adds
sentences (invented readers, places and numbers), so the near-duplicate check sees what a real
blog gives it. About 1% of posts are deliberate near-copies of an earlier post and 0.3% exact
copies, as in real exports, and should be reported as such.

Measured, each in a fresh process on a fresh throwaway database (bench/_django.py):
- parse only: iterating `iter_import(path)` with no database, to see where the time goes;
- the import: `import_items(iter_import(path), by=user)`, timed end to end (the embedding tasks
  it enqueues at the end go to a Redis database that is emptied afterwards); RSS is sampled as
  posts are imported, and the RSS high-water mark read before and after;
- the same import again under tracemalloc (too slow to time), for the peak of Python
  allocations after 2,000 posts and at the end, and the lines holding the most memory then
  (`BENCH_IMPORT_TRACE=0` leaves this run out: it takes about three times as long);
- the per-post cost of each CPU step of the service, on 300 of the parsed posts.
"""

import gc
import html
import os
import random
import re
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bench._django import bench_author, in_fresh_process, maxrss_mb, rss_mb, throwaway_django

ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = ROOT / "posts" / "demo_corpus"
POSTS = int(os.environ.get("BENCH_IMPORT_POSTS", "10000"))
CHECKPOINT = 2_000  # compare memory after this many posts with memory at the end
SAMPLE_EVERY = 500
STAGE_SAMPLE = 300
TRACE = os.environ.get("BENCH_IMPORT_TRACE", "1") != "0"  # the traced run takes ~3x as long
BLOG = "https://blog.example.com"

NAMES = (
    "Amara", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kai",
    "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tess", "Uma", "Victor",
    "Wren", "Yusuf", "Zoe", "Aled", "Bea", "Cormac", "Dina", "Emil",
)  # fmt: skip
PLACES = (
    "Leeds", "Bristol", "Glasgow", "Cork", "Toronto", "Melbourne", "Austin", "Denver", "Utrecht",
    "Malmo", "Porto", "Wellington", "Halifax", "Dundee", "Galway", "Boise", "Tucson", "Perth",
    "Norwich", "Exeter", "Bergen", "Ghent", "Lyon", "Graz",
)  # fmt: skip
JOBS = (
    "nurse", "teacher", "paramedic", "software developer", "chef", "accountant", "farmer",
    "student", "lawyer", "social worker", "bus driver", "pharmacist", "architect", "carer",
    "postdoc", "shop manager", "firefighter", "graphic designer",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ASIDES = (
    "A reader in {place} wrote in {month} to ask about {topic}, and I have kept thinking about it.",
    "{name}, who works as a {job}, told me it took about {n} weeks before this felt ordinary.",
    "When I tried this myself one {day} in {month}, it took roughly {n} minutes.",
    "In supervision last {month}, {name} put it better than I can: start smaller than you think.",
    "I first wrote about {topic} in {year}, and my view has shifted a little since then.",
    "A {job} I worked with in {place} kept a note of this on the fridge for {n} months.",
    "Of the last {n} people who asked me about {topic}, most expected it to be harder.",
    "{name} from {place} asked whether this applies to a {job}; in short, yes.",
    "On a wet {day} in {place}, a client described {topic} to me as weather, not climate.",
    "It is {year} as I revise this, and the research on {topic} has mostly held up.",
)  # fmt: skip
TITLE_FORMS = (
    "{title}",
    "{title}, revisited",
    "{title} ({year} edition)",
    "{topic_cap}: {heading}",
    "Notes on {topic}, part {n}",
    "{n} things I have learned about {topic}",
    "Reader question: {heading_lower}?",
    "What a {job} taught me about {topic}",
    "On {topic} and {topic2}",
    "A {day} note on {topic}",
    "{heading} ({place}, {month} {year})",
)
CATEGORIES = (
    "Anxiety", "Depression", "Sleep", "Practice", "Relationships", "Work", "Therapy basics",
    "Family", "Self-care", "Research", "Reader questions", "Uncategorized",
)  # fmt: skip
GENERIC_HEADINGS = {"the takeaway", "a composite example", "a small scene"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")


@dataclass(frozen=True)
class DemoPost:
    title: str
    tags: tuple[str, ...]
    paragraphs: tuple[str, ...]  # Markdown
    others: tuple[str, ...]  # lists and block quotes, Markdown
    headings: tuple[str, ...]


def load_pool() -> list[DemoPost]:
    """The demo posts cut into blocks, read with the project's own Markdown importer."""
    from posts.importers.markdown import parse_markdown

    pool = []
    for path in sorted(DEMO_CORPUS.glob("*.md")):
        post = parse_markdown(path.read_text(), source_name=path.name, source_id=path.name)
        paragraphs, others, headings = [], [], []
        for block in post.body_markdown.split("\n\n"):
            block = block.strip()
            if block.startswith("#"):
                headings.append(block.lstrip("#").strip())
            elif block.startswith(("- ", "* ", "1. ", ">")):
                others.append(block)
            elif block:
                paragraphs.append(block)
        pool.append(
            DemoPost(post.title, post.tags, tuple(paragraphs), tuple(others), tuple(headings))
        )
    return pool


class ExportWriter:
    """Writes one WXR file item by item; `posts` items of type post, the rest to be skipped."""

    def __init__(self, pool: list[DemoPost], seed: int = 7) -> None:
        from markdown_it import MarkdownIt

        self.pool = pool
        self.rng = random.Random(seed)
        self.markdown = MarkdownIt("commonmark")
        self.item_id = 0
        self.slugs: Counter[str] = Counter()
        self.recent: list[tuple[str, list[str]]] = []  # (title, blocks) to re-post now and then
        self.topics = sorted({tag.replace("-", " ") for post in pool for tag in post.tags})
        self.kinds: Counter[str] = Counter()

    def write(self, out: TextIO, posts: int) -> Counter[str]:
        out.write(_HEADER.format(blog=BLOG))
        for tag in self.topics:
            slug = tag.replace(" ", "-")
            out.write(f"\t<wp:tag><wp:tag_slug>{slug}</wp:tag_slug>")
            out.write(f"<wp:tag_name><![CDATA[{tag}]]></wp:tag_name></wp:tag>\n")
        when = datetime(2009, 1, 5, 9, 0, tzinfo=UTC)
        span_hours = 15 * 365 * 24 / max(posts, 1)
        for _ in range(posts):
            when += timedelta(hours=self.rng.uniform(0.2, 1.8) * span_hours)
            roll = self.rng.random()
            if roll < 0.10:
                out.write(self.attachment(when))
            elif roll < 0.12:
                out.write(self.page(when))
            elif roll < 0.125:
                out.write(self.menu_item(when))
            out.write(self.post(when))
        out.write("</channel>\n</rss>\n")
        return self.kinds

    # --- Items.

    def post(self, when: datetime) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.01 and self.recent:  # a near copy: one paragraph reworded, one added
            title, blocks = rng.choice(self.recent)
            blocks = list(blocks)
            blocks[rng.randrange(len(blocks))] = self.paragraph_html(
                self.vary(rng.choice(rng.choice(self.pool).paragraphs)), classic=False
            )
            kind = "near copy"
        elif roll < 0.013 and self.recent:  # the same text again, under another id
            title, blocks = rng.choice(self.recent)
            kind = "exact copy"
        else:
            title, blocks = self.new_post()
            kind = "post"
        self.recent = [*self.recent[-199:], (title, blocks)]
        status, date_gmt = "publish", when.strftime("%Y-%m-%d %H:%M:%S")
        roll = rng.random()
        if roll < 0.03:
            status, date_gmt, kind = "draft", "0000-00-00 00:00:00", f"{kind} (draft)"
        elif roll < 0.035:
            status, kind = "trash", "trashed post"
        elif roll < 0.038:
            status, kind = "private", f"{kind} (private)"
        self.kinds[kind] += 1
        terms = [("category", c) for c in rng.sample(CATEGORIES, rng.choice((1, 1, 2)))]
        topics = [*rng.choice(self.pool).tags, *rng.sample(self.topics, 2)]
        terms += [("post_tag", t.replace("-", " ")) for t in topics[: rng.randint(1, 5)]]
        excerpt = ""
        if rng.random() < 0.3:
            excerpt = html.escape(_first_sentence(self.pool[0].paragraphs[rng.randrange(3)]))
        extra = "".join(self.comment(when) for _ in range(rng.choice((0, 0, 0, 1, 2, 4))))
        return self.item(
            when, title, "\n\n".join(blocks), post_type="post", status=status,
            date_gmt=date_gmt, terms=terms, excerpt=excerpt, extra=extra,
        )  # fmt: skip

    def new_post(self) -> tuple[str, list[str]]:
        rng = self.rng
        theme, *others = rng.sample(self.pool, 3)
        classic = rng.random() < 0.4
        target = rng.randint(300, 1200)
        first = f"{self.aside(theme)} {self.vary(theme.paragraphs[0])}"
        blocks, words = [self.paragraph_html(first, classic=classic)], len(first.split())
        while words < target:
            source = theme if rng.random() < 0.6 else rng.choice(others)
            roll = rng.random()
            if roll < 0.15 and source.headings:
                blocks.append(self.heading_html(rng.choice(source.headings), classic=classic))
                continue
            if roll < 0.25 and source.others:
                text = rng.choice(source.others)
                blocks.append(self.other_html(text, classic=classic))
            elif roll < 0.28:
                blocks.append(self.image_html(classic=classic))
                continue
            else:
                text = self.vary(rng.choice(source.paragraphs))
                blocks.append(self.paragraph_html(text, classic=classic))
            words += len(text.split())
        return self.title(theme), blocks

    def attachment(self, when: datetime) -> str:
        self.kinds["attachment"] += 1
        name = f"photo-{self.item_id + 1}"
        url = f"{BLOG}/wp-content/uploads/{when:%Y/%m}/{name}.jpg"
        extra = f"\t\t<wp:attachment_url><![CDATA[{url}]]></wp:attachment_url>\n"
        return self.item(when, name, "", post_type="attachment", status="inherit", extra=extra)

    def page(self, when: datetime) -> str:
        self.kinds["page"] += 1
        body = self.paragraph_html(self.vary(self.rng.choice(self.pool).paragraphs[0]), False)
        title = self.rng.choice(("About", "Contact", "Fees", "Resources", "Privacy policy"))
        return self.item(when, title, body, post_type="page", status="publish")

    def menu_item(self, when: datetime) -> str:
        self.kinds["nav_menu_item"] += 1
        return self.item(when, "", "", post_type="nav_menu_item", status="publish")

    def comment(self, when: datetime) -> str:
        text = html.escape(self.aside(self.rng.choice(self.pool)))
        return (
            f"\t\t<wp:comment><wp:comment_id>{self.rng.randrange(10**6)}</wp:comment_id>"
            f"<wp:comment_author><![CDATA[{self.rng.choice(NAMES)}]]></wp:comment_author>"
            f"<wp:comment_date_gmt>{when:%Y-%m-%d %H:%M:%S}</wp:comment_date_gmt>"
            f"<wp:comment_content><![CDATA[{text}]]></wp:comment_content>"
            "<wp:comment_approved>1</wp:comment_approved></wp:comment>\n"
        )

    def item(
        self,
        when: datetime,
        title: str,
        content: str,
        *,
        post_type: str,
        status: str,
        date_gmt: str = "",
        terms: list[tuple[str, str]] | None = None,
        excerpt: str = "",
        extra: str = "",
    ) -> str:
        self.item_id += 1
        base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or str(self.item_id)
        self.slugs[base] += 1
        slug = base if self.slugs[base] == 1 else f"{base}-{self.slugs[base]}"  # as WordPress does
        date_gmt = date_gmt or when.strftime("%Y-%m-%d %H:%M:%S")
        categories = "".join(
            f'\t\t<category domain="{domain}" nicename="{name.lower().replace(" ", "-")}">'
            f"<![CDATA[{name}]]></category>\n"
            for domain, name in terms or []
        )
        return _ITEM.format(
            title=_cdata(title), link=f"{BLOG}/{when:%Y/%m/%d}/{slug}/", id=self.item_id,
            pub=when.strftime("%a, %d %b %Y %H:%M:%S +0000"), blog=BLOG,
            content=_cdata(content), excerpt=_cdata(excerpt), gmt=date_gmt,
            local=when.strftime("%Y-%m-%d %H:%M:%S"), slug=slug, status=status, type=post_type,
            categories=categories, extra=extra,
        )  # fmt: skip

    # --- Text.

    def fill(self, template: str, theme: DemoPost) -> str:
        rng = self.rng
        headings = [h for h in theme.headings if h.lower() not in GENERIC_HEADINGS] or [theme.title]
        heading = rng.choice(headings)
        topic = rng.choice(theme.tags).replace("-", " ")
        return template.format(
            title=theme.title, heading=heading, heading_lower=heading[0].lower() + heading[1:],
            topic=topic, topic_cap=topic.capitalize(), topic2=rng.choice(self.topics),
            name=rng.choice(NAMES), place=rng.choice(PLACES), job=rng.choice(JOBS),
            month=rng.choice(MONTHS), day=rng.choice(DAYS), year=rng.randint(2009, 2024),
            n=rng.randint(2, 40),
        )  # fmt: skip

    def aside(self, theme: DemoPost) -> str:
        return self.fill(self.rng.choice(ASIDES), theme)

    def title(self, theme: DemoPost) -> str:
        return self.fill(self.rng.choice(TITLE_FORMS), theme)

    def vary(self, paragraph: str) -> str:
        """The paragraph with its sentences rotated, one dropped, or an aside added."""
        rng = self.rng
        sentences = _SENTENCE.split(paragraph)
        if len(sentences) > 2 and rng.random() < 0.3:
            del sentences[rng.randrange(1, len(sentences))]
        if len(sentences) > 2 and rng.random() < 0.3:
            cut = rng.randrange(1, len(sentences))
            sentences = sentences[cut:] + sentences[:cut]
        if rng.random() < 0.4:
            sentences.insert(rng.randrange(len(sentences) + 1), self.aside(rng.choice(self.pool)))
        return " ".join(sentences)

    def paragraph_html(self, markdown: str, classic: bool) -> str:
        inline = self.markdown.renderInline(markdown)
        if classic:
            return inline  # the classic editor stores paragraphs without <p>: wpautop adds them
        return f"<!-- wp:paragraph -->\n<p>{inline}</p>\n<!-- /wp:paragraph -->"

    def heading_html(self, text: str, classic: bool) -> str:
        inline = self.markdown.renderInline(text)
        if classic:
            return f"<h2>{inline}</h2>"
        return (
            f'<!-- wp:heading -->\n<h2 class="wp-block-heading">{inline}</h2>\n<!-- /wp:heading -->'
        )

    def other_html(self, markdown: str, classic: bool) -> str:
        rendered = self.markdown.render(markdown).strip()
        if classic:
            return rendered
        block = "quote" if markdown.startswith(">") else "list"
        return f"<!-- wp:{block} -->\n{rendered}\n<!-- /wp:{block} -->"

    def image_html(self, classic: bool) -> str:
        n = self.rng.randrange(1, 10**5)
        src = f"{BLOG}/wp-content/uploads/2019/03/photo-{n}.jpg"
        caption = html.escape(f"{self.rng.choice(PLACES)} in {self.rng.choice(MONTHS)}")
        img = f'<img class="wp-image-{n}" src="{src}" alt="{caption}" width="800" height="533" />'
        if classic:
            shortcode = f'[caption id="attachment_{n}" align="aligncenter" width="800"]'
            return f"{shortcode}{img} {caption}[/caption]"
        return (
            f'<!-- wp:image {{"id":{n}}} -->\n<figure class="wp-block-image">{img}'
            f"<figcaption>{caption}</figcaption></figure>\n<!-- /wp:image -->"
        )


def _first_sentence(paragraph: str) -> str:
    return _SENTENCE.split(paragraph)[0]


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


_HEADER = """<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0"
\txmlns:excerpt="http://wordpress.org/export/1.2/excerpt/"
\txmlns:content="http://purl.org/rss/1.0/modules/content/"
\txmlns:wfw="http://wellformedweb.org/CommentAPI/"
\txmlns:dc="http://purl.org/dc/elements/1.1/"
\txmlns:wp="http://wordpress.org/export/1.2/"
>
<channel>
\t<title>Notes from the Consulting Room</title>
\t<link>{blog}</link>
\t<description>A psychologist on anxiety, sleep, work and the practice of therapy</description>
\t<language>en-GB</language>
\t<wp:wxr_version>1.2</wp:wxr_version>
\t<wp:base_site_url>{blog}</wp:base_site_url>
\t<wp:base_blog_url>{blog}</wp:base_blog_url>
\t<wp:author><wp:author_id>1</wp:author_id><wp:author_login><![CDATA[maren]]></wp:author_login>\
<wp:author_email><![CDATA[maren@example.com]]></wp:author_email></wp:author>
\t<generator>https://wordpress.org/?v=6.4.2</generator>
"""
_ITEM = """\t<item>
\t\t<title>{title}</title>
\t\t<link>{link}</link>
\t\t<pubDate>{pub}</pubDate>
\t\t<dc:creator><![CDATA[maren]]></dc:creator>
\t\t<guid isPermaLink="false">{blog}/?p={id}</guid>
\t\t<description></description>
\t\t<content:encoded>{content}</content:encoded>
\t\t<excerpt:encoded>{excerpt}</excerpt:encoded>
\t\t<wp:post_id>{id}</wp:post_id>
\t\t<wp:post_date>{local}</wp:post_date>
\t\t<wp:post_date_gmt>{gmt}</wp:post_date_gmt>
\t\t<wp:comment_status><![CDATA[open]]></wp:comment_status>
\t\t<wp:ping_status><![CDATA[open]]></wp:ping_status>
\t\t<wp:post_name><![CDATA[{slug}]]></wp:post_name>
\t\t<wp:status><![CDATA[{status}]]></wp:status>
\t\t<wp:post_parent>0</wp:post_parent>
\t\t<wp:menu_order>0</wp:menu_order>
\t\t<wp:post_type><![CDATA[{type}]]></wp:post_type>
\t\t<wp:post_password><![CDATA[]]></wp:post_password>
\t\t<wp:is_sticky>0</wp:is_sticky>
{categories}\t\t<wp:postmeta><wp:meta_key><![CDATA[_edit_last]]></wp:meta_key>\
<wp:meta_value><![CDATA[1]]></wp:meta_value></wp:postmeta>
{extra}\t</item>
"""


# --- Measurements.


def parse_only(path: Path) -> tuple[float, Counter[str]]:
    """Seconds to iterate the export with no database, and what came out."""
    from posts.importers import ImportSkip, iter_import

    seen: Counter[str] = Counter()
    started = time.perf_counter()
    for result in iter_import(path):
        seen["skip" if isinstance(result, ImportSkip) else "post"] += 1
    return time.perf_counter() - started, seen


def import_run(path: Path, items: int, traced: bool) -> dict[str, Any]:
    """Import the export into a fresh database (run in a fresh process)."""
    with throwaway_django():
        from posts.importers import iter_import
        from posts.models import Post
        from posts.services.importing import import_items

        user = bench_author()
        gc.collect()
        result: dict[str, Any] = {"rss_before": rss_mb(), "maxrss_before": maxrss_mb()}
        counts: Counter[str] = Counter()
        samples: list[tuple[int, float, float, float]] = []  # posts, seconds, RSS, traced peak
        started = time.perf_counter()

        def on_item(line: Any) -> None:
            counts[line.outcome] += 1
            done = counts["imported"] + counts["duplicate"]
            at_sample = line.outcome != "skipped" and done % SAMPLE_EVERY == 0
            if at_sample or counts.total() == items:
                peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else 0.0
                samples.append((done, time.perf_counter() - started, rss_mb(), peak))
            if traced and counts.total() == items:
                result["top"] = _top_allocations(tracemalloc.take_snapshot())

        if traced:
            tracemalloc.start()
        import_items(iter_import(path), by=user, on_item=on_item)
        result["seconds"] = time.perf_counter() - started
        if traced:
            result["traced_peak"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        result.update(samples=samples, counts=counts, maxrss_after=maxrss_mb())
        result["flagged"] = Post.objects.exclude(duplicate_of=None).count()
        result["posts"] = Post.objects.count()
        if not traced:
            result["stages"] = stage_costs(path)
        return result


def _top_allocations(snapshot: tracemalloc.Snapshot, limit: int = 5) -> list[tuple[str, float]]:
    """The source lines whose allocations are still alive, biggest first."""
    top = []
    for stat in snapshot.statistics("lineno")[:limit]:
        frame = stat.traceback[0]
        name = frame.filename.split("site-packages/")[-1].removeprefix(str(ROOT) + "/")
        top.append((f"{name}:{frame.lineno}", stat.size / 2**20))
    return top


def stage_costs(path: Path) -> dict[str, float]:
    """Milliseconds per post for each CPU step the service runs, on the first parsed posts."""
    from posts import corpus
    from posts.importers import ImportedPost, iter_import
    from posts.services.rendering import render_markdown

    items = []
    for item in iter_import(path):
        if isinstance(item, ImportedPost):
            items.append(item)
        if len(items) == STAGE_SAMPLE:
            break
    cleaned = [corpus.clean_text(item.body_markdown).text for item in items]
    steps = {
        "clean_text": lambda text: corpus.clean_text(text),
        "content_hash": corpus.content_hash,
        "render_markdown": render_markdown,
        "MinHasher().signature": lambda text: corpus.MinHasher().signature(text),
        "find_contact_details": corpus.find_contact_details,
    }
    costs = {}
    for name, step in steps.items():
        started = time.perf_counter()
        for text in cleaned:
            step(text)
        costs[name] = (time.perf_counter() - started) * 1000 / len(cleaned)
    return costs


def generate(folder: Path, posts: int) -> tuple[Path, int, Counter[str], float]:
    path = folder / "export.xml"
    started = time.perf_counter()
    with path.open("w", encoding="utf-8") as out:
        writer = ExportWriter(load_pool())
        kinds = writer.write(out, posts)
    return path, writer.item_id, kinds, time.perf_counter() - started


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="blogllm-bench-wxr-") as tmp:
        path, items, kinds, gen_seconds = generate(Path(tmp), POSTS)
        size_mb = path.stat().st_size / 2**20
        print(f"export: {items:,} items, {size_mb:.0f} MB, generated in {gen_seconds:.0f}s")
        print("  " + ", ".join(f"{kind} {n:,}" for kind, n in kinds.most_common()))
        parse_seconds, seen = parse_only(path)
        timed = in_fresh_process(import_run, path, items, False)
        traced = in_fresh_process(import_run, path, items, True) if TRACE else None
    report(items, parse_seconds, seen, timed, traced)


def segments(samples: list[tuple]) -> list[tuple[str, tuple, tuple]]:
    """The first and the last 2,000 posts, as (label, (posts, seconds) at start and end)."""
    points = [(0, 0.0), *((done, at) for done, at, *_ in samples)]
    last = points[-1][0]
    start = next((p for p in points if p[0] >= CHECKPOINT), None)
    end = next((p for p in reversed(points) if p[0] <= last - CHECKPOINT), None)
    if start is None or end is None or end[0] < start[0]:
        return []
    return [
        (f"of which: posts 1-{start[0]:,}", points[0], start),
        (f"of which: posts {end[0] + 1:,}-{last:,}", end, points[-1]),
    ]


def report(
    items: int, parse_seconds: float, seen: Counter[str], timed: dict, traced: dict | None
) -> None:
    counts, seconds = timed["counts"], timed["seconds"]
    stored = counts["imported"]
    last = timed["samples"][-1][1]
    print(f"\n{'step':<44} {'seconds':>8} {'items/s':>8} {'posts/s':>8}")
    print(
        f"{'parse only (iter_import, no database)':<44} {parse_seconds:>8.1f} "
        f"{items / parse_seconds:>8.0f} {seen['post'] / parse_seconds:>8.0f}"
    )
    print(f"{'import_items end to end':<44} {seconds:>8.1f} {items / seconds:>8.0f} "
          f"{stored / seconds:>8.1f}")  # fmt: skip
    print(f"{'  of which: enqueue embedding tasks at the end':<44} {seconds - last:>8.1f}")
    for label, first, last_done in segments(timed["samples"]):
        (done_a, at_a), (done_b, at_b) = first, last_done
        rate = (done_b - done_a) / (at_b - at_a)
        print(f"{'  ' + label:<44} {at_b - at_a:>8.1f} {'':>8} {rate:>8.1f}")
    print(
        f"outcomes: {stored:,} imported ({timed['flagged']:,} flagged near-duplicate), "
        f"{counts['duplicate']:,} duplicate, {counts['skipped']:,} skipped; "
        f"{timed['posts']:,} posts in the database"
    )

    print(f"\n{'memory':<50} {'RSS MB':>8} {'traced MB':>10}")
    print(f"{'before the import':<50} {timed['rss_before']:>8.0f}")
    by_posts = {done: rss for done, _, rss, _ in timed["samples"]}
    traced_by_posts = {done: peak for done, _, _, peak in (traced or {}).get("samples", [])}
    shown = sorted(set(by_posts) & {CHECKPOINT, 5_000, max(by_posts)})
    for done in shown:
        label = f"after {done:,} posts (RSS now; traced: peak so far)"
        peak = traced_by_posts.get(done)
        peak_text = f"{peak:>10.0f}" if peak is not None else ""
        print(f"{label:<50} {by_posts[done]:>8.0f} {peak_text}".rstrip())
    growth = timed["maxrss_after"] - timed["maxrss_before"]
    print(f"{'peak RSS growth (ru_maxrss after - before)':<50} {growth:>8.0f}")
    if traced is not None:
        print(f"{'tracemalloc peak during the import':<50} {'':>8} {traced['traced_peak']:>10.0f}")
    if len(shown) > 1:
        first, end = shown[0], shown[-1]
        per_post = (by_posts[end] - by_posts[first]) * 1024 / (end - first)
        line = f"growth from {first:,} to {end:,} posts: RSS {per_post:.1f} KB per post"
        if first in traced_by_posts and end in traced_by_posts:
            traced_growth = traced_by_posts[end] - traced_by_posts[first]
            line += f", traced {traced_growth * 1024 / (end - first):.1f} KB per post"
        print(line)
    if traced is None:
        print("(the tracemalloc run was left out: BENCH_IMPORT_TRACE=0)")
    else:
        print("Python memory still held after the last item, by allocating line:")
        for where, size in traced["top"]:
            print(f"  {size:>7.1f} MB  {where}")

    per_post_ms = seconds * 1000 / max(stored, 1)
    print(f"\nper-post cost of the CPU steps (ms, mean over {STAGE_SAMPLE} posts):")
    print(f"  {'parse (iter_import)':<24} {parse_seconds * 1000 / max(seen['post'], 1):>6.1f}")
    for name, ms in timed["stages"].items():
        print(f"  {name:<24} {ms:>6.1f}")
    print(f"  {'import_items, all of it':<24} {per_post_ms:>6.1f}")


if __name__ == "__main__":
    main()
