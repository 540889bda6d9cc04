"""The real app in a real browser: `streamlit run app.py` on loopback, driven by Playwright and Debian's Chromium.

Screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (`apt-get install -y chromium`, or `make browser`)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (`pip install .[dev]`)")
expect = sync_api.expect
Document = pytest.importorskip("docx", reason="python-docx is not installed (`pip install .`)").Document

REPO = Path(__file__).resolve().parents[2]
FIXTURE_CORPUS = REPO / "tests" / "fixtures" / "corpus"
ARTIFACTS = REPO / "test-artifacts"
DOCS = REPO / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 2000}  # tall: Streamlit scrolls inside the page, not the page itself
ANSWER_WAIT_MS = 90_000
CHAT = "[data-testid=stChatMessage]"
INPUT = "[data-testid=stChatInput] textarea"
FIXTURE_TITLES = re.compile(r"Employer Networks in Practice|Colleges and Small Employers|Job Brokerage for Progression")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(index_env: dict[str, str], log_name: str) -> Iterator[str]:
    """A real `streamlit run app.py` on a free loopback port with the index in `index_env`; yields its URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(index_env, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / log_name, "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start; see {ARTIFACTS / log_name}")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def app_url(fixture_index: dict[str, str]) -> Iterator[str]:
    """The app served by a real `streamlit run` on a free loopback port, with the fixture index."""
    yield from serve(fixture_index, "streamlit-server.log")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    open_app(page, app_url)
    yield page
    context.close()


def open_app(page, url: str) -> None:
    page.goto(url)
    # The first visit loads the model (cached afterwards for every session).
    expect(page.locator(INPUT)).to_be_visible(timeout=ANSWER_WAIT_MS)


def ask(page, question: str) -> object:
    """Type `question`, press Enter, and return the assistant's message once the final answer is shown."""
    before = page.locator(CHAT).count()
    page.locator(INPUT).fill(question)
    page.locator(INPUT).press("Enter")
    expect(page.locator(CHAT)).to_have_count(before + 2, timeout=ANSWER_WAIT_MS)
    reply = page.locator(CHAT).nth(before + 1)
    finished(page, reply)
    return reply


def finished(page, reply) -> None:
    """Wait until the run that drew `reply` is over: the download button is the last thing drawn under an
    answer, and then no element is left stale."""
    expect(reply.get_by_role("button", name="Download this answer (Markdown)")).to_be_visible(timeout=ANSWER_WAIT_MS)
    expect(page.locator("[data-stale=true]")).to_have_count(0, timeout=ANSWER_WAIT_MS)


# Scroll the element to the top of Streamlit's scrolling pane, leaving room for the app's header.
SCROLL_TO = """element => {
  element.scrollIntoView();
  let pane = element.parentElement;
  while (pane && pane.scrollHeight <= pane.clientHeight) pane = pane.parentElement;
  if (pane) pane.scrollTop -= 90;
}"""


def doc_shot(locator, name: str) -> None:
    """A screenshot of one element for the README (docs/screenshots), so the pictures stay current."""
    DOCS.mkdir(parents=True, exist_ok=True)
    locator.page.wait_for_timeout(300)
    locator.screenshot(path=str(DOCS / f"{name}.png"))


def shot(page, name: str, top=None) -> None:
    """Save a screenshot, scrolled so that `top` (a locator) starts the view."""
    if top is not None:
        top.evaluate(SCROLL_TO)
    page.wait_for_timeout(300)  # let expanders and fonts settle
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_ask_cite_open_source_export_and_follow_up(page):
    shot(page, "01-empty-state")
    expect(page.get_by_role("button", name="How can colleges engage small employers?")).to_be_visible()

    reply = ask(page, "How can colleges engage small employers?")
    first_card = reply.get_by_text(re.compile(r"^\[1\] "))
    expect(first_card).to_be_visible()
    expect(first_card).to_have_text(FIXTURE_TITLES)
    expect(reply).to_contain_text("[1]")  # the marker in the answer matches card [1]

    reply.get_by_text("Read [1] in its passage").click()
    expect(reply.locator("mark.quote").first).to_be_visible()
    shot(page, "02-answer-with-sources", top=page.locator(CHAT).nth(0))
    doc_shot(page.locator("[data-testid=stMainBlockContainer]"), "chat")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the conversation (Markdown)").click()
    note = Path(info.value.path()).read_text(encoding="utf-8")
    assert "How can colleges engage small employers?" in note
    assert "## References" in note and "**Beta (2015)** — Carol Test (2015). Colleges and Small Employers." in note
    (ARTIFACTS / "briefing-note.md").write_text(note, encoding="utf-8")

    follow_up = ask(page, "And what are the barriers to training for them?")
    expect(follow_up.get_by_text(re.compile(r"^\[1\] "))).to_have_text(FIXTURE_TITLES)
    expect(page.locator(CHAT)).to_have_count(4)
    shot(page, "03-follow-up", top=page.locator(CHAT).nth(2))


def test_out_of_scope_question_shows_the_abstention_box(page):
    reply = ask(page, "What is the capital of France?")
    expect(reply.get_by_test_id("stAlertContentInfo")).to_contain_text("The reports don't cover this question")
    expect(reply).to_contain_text("Nearest related passages")
    shot(page, "04-abstention", top=page.locator(CHAT).nth(0))


def test_citation_opens_the_report_at_the_passage(page):
    reply = ask(page, "How are employer networks funded?")
    reply.get_by_text("Read [1] in its passage").click()
    reply.get_by_role("link", name="Open the report at this passage").first.click()
    expect(page).to_have_url(re.compile(r"/reports\?report=[\w-]+&chunk=[^&]+&at=\d+-\d+"), timeout=30_000)
    expect(page.get_by_text("Cited passage")).to_be_visible(timeout=30_000)
    expect(page.locator("mark.quote")).to_be_visible()
    shot(page, "05-report-at-passage")


# The words before a <mark> in its paragraph, to check that the highlight starts where a sentence does.
TEXT_BEFORE = (
    "el => { const p = el.closest('p'); const t = p.textContent; return t.slice(0, t.indexOf(el.textContent)); }"
)
SENTENCE_END = re.compile(r"[.!?…][”’\"')\]]*$")


def _words(text: str) -> str:
    return " ".join(text.replace("“", " ").replace("”", " ").split())


def test_reader_highlights_the_whole_cited_sentence_inside_its_passage(page):
    reply = ask(page, "What stops small firms training staff?")
    card = page.locator(".st-key-source-0-1")
    quote = _words(card.locator(".source-quote").first.inner_text())
    assert quote
    reply.get_by_text("Read [1] in its passage").click()
    shot(page, "06-source-card", top=card)
    doc_shot(card, "source-card")
    reply.get_by_role("link", name="Open the report at this passage").first.click()
    cited = page.locator(".st-key-cited-passage")
    expect(cited).to_be_visible(timeout=30_000)
    mark = cited.locator("mark.quote").first
    marked = _words(mark.inner_text())
    assert quote in marked  # the quote, inside the highlight, inside the cited passage
    assert SENTENCE_END.search(marked), marked  # ... which runs to the end of the sentence
    before = mark.evaluate(TEXT_BEFORE).rstrip()
    assert before == "" or SENTENCE_END.search(before), before  # ... and starts where the sentence starts
    assert cited.locator("mark.quote").evaluate_all("marks => marks.every(m => m.textContent.trim().length > 0)")
    doc_shot(page.locator("[data-testid=stMainBlockContainer]"), "reader")


def test_briefing_downloads_number_sources_once_and_list_references(page):
    ask(page, "How can colleges engage small employers?")
    ask(page, "How are employer networks funded?")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the conversation (Markdown)").click()
    note = Path(info.value.path()).read_text(encoding="utf-8")
    body, references = note.split("## References")
    used = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    listed = [int(n) for n in re.findall(r"^- \[(\d+)\] “", body, re.MULTILINE)]
    assert used == set(listed) == set(range(1, max(used) + 1))  # every marker has its source, numbered 1..N
    labels = set(re.findall(r"^- \[\d+\] “.*” — ([^,\n]+ \(\d{4}\)), ", body, re.MULTILINE))
    assert labels and all(f"- **{label}** — " in references for label in labels)
    assert "Carol Test (2015). Colleges and Small Employers. Beta Agency." in references

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the conversation (Word)").click()
    doc = Document(info.value.path())
    paragraphs = [(p.style.name, p.text) for p in doc.paragraphs]
    text = "\n".join(t for _, t in paragraphs)
    assert {int(n) for n in re.findall(r"\[(\d+)\]", text.split("\nReferences\n")[0])} == used
    word_references = [t for style, t in paragraphs if style == "List Number"]
    assert len(word_references) == len(labels) and all(any(r.startswith(f"{lb} — ") for r in word_references)
                                                       for lb in labels)
    (ARTIFACTS / "briefing-note.docx").write_bytes(Path(info.value.path()).read_bytes())


def test_evaluation_page_shows_targets_beside_the_floors(page, app_url):
    page.goto(f"{app_url}/evaluation")
    expect(page.get_by_text("Targets and regression floors")).to_be_visible(timeout=ANSWER_WAIT_MS)
    expect(page.locator("table").first).to_contain_text("product target")
    doc_shot(page.locator("[data-testid=stMainBlockContainer]"), "evaluation")


# A report planted with everything that must stay inert: a remote image, a link, a Streamlit directive,
# LaTeX, HTML and terminal escapes (screen clear, colour, a hidden OSC 8 hyperlink).
PLANTED = (
    "Apprenticeship brokers shared a logo ![logo](http://evil.example/pixel.png) and a "
    "[booking link](http://evil.example/book) with firms. Brokers flagged cases as :red[urgent] and "
    "costed them at $x^2$ per learner. Brokers pasted <img src=\"http://evil.example/tag.png\"> tags and "
    "<b>bold</b> claims into their notes. The terminal notes said \x1b[2J\x1b[31mcleared screen\x1b[0m and "
    "\x1b]8;;http://evil.example/\x1b\\hidden link\x1b]8;;\x1b\\ in the log."
)
PLANTED_ID = "zeta-2021-planted"


def planted_report() -> str:
    """Front matter, an introduction with the hostile text, and a long section that splits into overlapping chunks."""
    findings = [
        " ".join(
            f"Broker team {i} in district {i} reported distinct finding number {i} about apprenticeship brokerage."
            for i in range(first, first + 5)
        )
        for first in range(1, 41, 5)
    ]
    return "\n\n".join([
        "Planted Test Report on Apprenticeship Brokers", "Published by the Test Press for the browser tests.",
        "Acknowledgements", "We thank the brokers who took part.",
        "1. Introduction", PLANTED, "Brokers met firms every month to discuss apprenticeships.",
        "2. Findings on apprenticeship brokerage", *findings,
    ]) + "\n"


@pytest.fixture(scope="module")
def planted_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the fixture corpus plus the planted report, indexed with the real model."""
    from assistant.config import Settings
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("planted")
    shutil.copytree(FIXTURE_CORPUS, root / "corpus")
    (root / "corpus" / f"{PLANTED_ID}.txt").write_text(planted_report(), encoding="utf-8")
    settings = Settings.load(corpus_dir=root / "corpus", index_dir=root / "index", embedder="minilm")
    summary = run_ingest(settings, progress=False)
    assert not summary.failures, summary.failures
    yield from serve({"ASSISTANT_CORPUS_DIR": str(root / "corpus"), "ASSISTANT_INDEX_DIR": str(root / "index")},
                     "streamlit-planted.log")


def _no_planted_markup_rendered(page, where) -> None:
    """Nothing from the planted text became an element, and all of it shows as the characters it is."""
    for selector in ("img", "a[href*='evil.example']", ".katex", "b", "[data-testid=stMarkdownColoredText]"):
        assert where.locator(selector).count() == 0, selector
    shown = where.inner_text()
    for literal_text in ("![logo](http://evil.example/pixel.png)", "[booking link](http://evil.example/book)",
                         ":red[urgent]", "$x^2$", '<img src="http://evil.example/tag.png">', "<b>bold</b>"):
        assert literal_text in shown, literal_text
    assert "\x1b" not in page.content()


def test_planted_report_text_stays_inert_in_answer_card_and_reader(browser, planted_url):
    context = browser.new_context(viewport=VIEWPORT)
    outside: list[str] = []

    def only_loopback(route) -> None:
        if route.request.url.startswith(planted_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    context.on("request", lambda request: None if request.url.startswith(planted_url) else outside.append(request.url))
    try:
        page = context.new_page()
        open_app(page, planted_url)
        reply = ask(page, "What logo and booking link did apprenticeship brokers share with firms?")
        expect(reply).to_contain_text("evil.example/pixel.png")
        card = reply.locator("[class*=st-key-source-]").filter(has_text="evil.example").first
        card.get_by_text(re.compile(r"^Read \[\d+\] in its passage")).click()
        _no_planted_markup_rendered(page, reply)
        shot(page, "07-planted-answer", top=page.locator(CHAT).nth(0))

        card.get_by_role("link", name="Open the report at this passage").click()
        cited = page.locator(".st-key-cited-passage")
        expect(cited).to_be_visible(timeout=30_000)
        _no_planted_markup_rendered(page, cited)
        shot(page, "08-planted-reader")

        # Opened without a passage, the report starts at its first real section, not its front matter.
        page.goto(f"{planted_url}/reports?report={PLANTED_ID}")
        expect(page.get_by_role("heading", name="1. Introduction")).to_be_visible(timeout=ANSWER_WAIT_MS)
        # The long section: its overlapping passages show every sentence once, in order.
        page.get_by_role("button", name="Next →").click()
        expect(page.get_by_role("heading", name="2. Findings on apprenticeship brokerage")).to_be_visible()
        # The heading can render a beat before the section's passages: wait for the last sentence.
        body = page.locator("[data-testid=stMainBlockContainer]")
        expect(body).to_contain_text("finding number 40 ", timeout=30_000)
        text = body.inner_text()
        assert [int(n) for n in re.findall(r"finding number (\d+)", text)] == list(range(1, 41))
        page.wait_for_timeout(500)
        assert outside == [], outside  # no request left the machine
    finally:
        context.close()


def test_script_in_a_question_is_shown_as_text(page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    question = "Do employer networks help <script>alert(1)</script> small firms?"
    ask(page, question)
    user = page.locator(CHAT).nth(0)
    expect(user).to_contain_text("<script>alert(1)</script>")
    assert page.locator("[data-testid=stChatMessage] script").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []
    shot(page, "06-markup-as-text", top=user)


def test_two_sessions_keep_separate_conversations(browser, app_url):
    first, second = browser.new_context(viewport=VIEWPORT), browser.new_context(viewport=VIEWPORT)
    try:
        a, b = first.new_page(), second.new_page()
        open_app(a, app_url)
        open_app(b, app_url)
        for page, question in ((a, "How are employer networks funded?"), (b, "What are the barriers to training?")):
            page.locator(INPUT).fill(question)
            page.locator(INPUT).press("Enter")  # both sessions answer at the same time
        for page in (a, b):
            expect(page.locator(CHAT)).to_have_count(2, timeout=ANSWER_WAIT_MS)
            expect(page.locator(CHAT).nth(1)).to_contain_text("Sources", timeout=ANSWER_WAIT_MS)
            finished(page, page.locator(CHAT).nth(1))  # a question typed while the run goes on is lost
        expect(a.locator(CHAT).nth(0)).to_contain_text("How are employer networks funded?")
        expect(b.locator(CHAT).nth(0)).to_contain_text("What are the barriers to training?")
        assert "barriers to training?" not in a.locator(CHAT).nth(0).inner_text()
        ask(a, "And who pays for them?")
        expect(a.locator(CHAT)).to_have_count(4)
        expect(b.locator(CHAT)).to_have_count(2)
        b.reload()  # a new session of b's own starts empty; a's conversation never leaks into it
        expect(b.locator(INPUT)).to_be_visible(timeout=ANSWER_WAIT_MS)
        expect(b.locator(CHAT)).to_have_count(0)
    finally:
        first.close()
        second.close()


def test_independent_questions_in_a_row_answer_as_in_a_new_conversation(browser, app_url):
    second = "What stops small firms from training their staff?"
    first_context, fresh_context = browser.new_context(viewport=VIEWPORT), browser.new_context(viewport=VIEWPORT)
    try:
        in_a_row, fresh = first_context.new_page(), fresh_context.new_page()
        open_app(in_a_row, app_url)
        open_app(fresh, app_url)
        ask(in_a_row, "How can colleges engage small employers?")
        after = ask(in_a_row, second)
        alone = ask(fresh, second)
        expect(after).not_to_contain_text("Searched as")
        assert after.inner_text() == alone.inner_text()
        shot(in_a_row, "07-independent-second-question", top=after)
        follow_up = ask(in_a_row, "And how were they paid for?")
        expect(follow_up).to_contain_text("Searched as: And how were they paid for? (")
        shot(in_a_row, "08-follow-up-searched-as", top=follow_up)
    finally:
        first_context.close()
        fresh_context.close()
