"""The real app in a real browser: `streamlit run app.py` on loopback, driven by Playwright and Debian's Chromium.

Screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import re
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

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
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


@pytest.fixture(scope="module")
def app_url(fixture_index: dict[str, str]) -> Iterator[str]:
    """The app served by a real `streamlit run` on a free loopback port, with the fixture index."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(fixture_index, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit-server.log", "w")  # noqa: SIM115 - closed below
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
                pytest.fail(f"streamlit did not start; see {ARTIFACTS / 'streamlit-server.log'}")
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
    # The download button is the last thing drawn under an answer; then no element is left stale.
    expect(reply.get_by_role("button", name="Download this answer")).to_be_visible(timeout=ANSWER_WAIT_MS)
    expect(page.locator("[data-stale=true]")).to_have_count(0, timeout=ANSWER_WAIT_MS)
    return reply


# Scroll the element to the top of Streamlit's scrolling pane, leaving room for the app's header.
SCROLL_TO = """element => {
  element.scrollIntoView();
  let pane = element.parentElement;
  while (pane && pane.scrollHeight <= pane.clientHeight) pane = pane.parentElement;
  if (pane) pane.scrollTop -= 90;
}"""


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

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the conversation").click()
    note = Path(info.value.path()).read_text(encoding="utf-8")
    assert "How can colleges engage small employers?" in note
    assert "## References" in note and "Carol Test (2015). Colleges and Small Employers. Beta Agency." in note
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
    expect(page).to_have_url(re.compile(r"/reports\?report=[\w-]+&chunk="), timeout=30_000)
    expect(page.get_by_text("Cited passage")).to_be_visible(timeout=30_000)
    expect(page.locator("mark.quote")).to_be_visible()
    shot(page, "05-report-at-passage")


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
