"""The upload page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): a real
photo chosen in the file input or dropped on the page gets its box drawn and seven bars, a face
crop is classified whole when asked, a text file gets a message; nothing is fetched from anywhere
but the server; a screenshot lands in test-artifacts/serve_page.png."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from facial_emotion.labels import EMOTIONS

from .serve_kit import REPO, astronaut_jpeg, no_face_png

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SCREENSHOT = REPO / "test-artifacts" / "serve_page.png"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: install Debian's chromium (make browser)"),
]


@pytest.fixture
def page(serve_server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make setup-dev)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 820})
            page.console_errors = []
            page.requested = []
            page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
            page.on("pageerror", lambda error: page.console_errors.append(str(error)))
            page.on("request", lambda request: page.requested.append(request.url))
            yield page
        finally:
            browser.close()


def test_upload_draws_the_box_and_seven_bars(page, serve_server, tmp_path):
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg())
    page.goto(serve_server.url + "/")
    expect = pytest.importorskip("playwright.sync_api").expect
    expect(page.locator("#model")).to_contain_text("facial-emotion version 1")

    page.set_input_files("#file", str(photo))
    page.wait_for_selector(".face .bar", timeout=60_000)

    cards = page.locator(".face")
    assert cards.count() == 1
    bars = cards.first.locator(".bar")
    assert bars.count() == len(EMOTIONS) == 7
    assert [bars.nth(i).get_attribute("data-label") for i in range(7)] == list(EMOTIONS)
    widths = [bars.nth(i).locator(".fill").bounding_box()["width"] for i in range(7)]
    assert all(w > 0 for w in widths), widths
    assert cards.first.locator(".bar.top").count() == 1
    assert "1 face" in page.locator("#status").inner_text()
    # The box's outline is drawn on the canvas in the first face colour, over the photo (YuNet's box
    # on the astronaut ends at y = 63 + 113 = 176).
    edge = page.evaluate("""() => {
        const canvas = document.getElementById('canvas');
        const s = canvas.width / 512;
        return Array.from(canvas.getContext('2d').getImageData(Math.round(220 * s), Math.round(176 * s), 1, 1).data);
    }""")
    assert edge[:3] == [0xE6, 0x19, 0x4B], edge

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # A 48x48 crop with no face YuNet can find, classified whole when the option is ticked.
    crop = tmp_path / "face.png"
    crop.write_bytes(no_face_png())
    page.check("#whole-image")
    page.set_input_files("#file", str(crop))
    expect(page.locator("#status")).to_contain_text("face.png: no face found: the whole image", timeout=30_000)
    assert page.locator(".face").count() == 1 and page.locator(".face .bar").count() == 7
    page.screenshot(path=str(SCREENSHOT.with_name("serve_page_crop.png")), full_page=True)

    # The same photo dropped on the drop zone instead of chosen.
    page.uncheck("#whole-image")
    dropped = page.evaluate_handle("""(b64) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'dropped.jpg', {type: 'image/jpeg'}));
        return transfer;
    }""", base64.b64encode(photo.read_bytes()).decode())
    page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
    expect(page.locator("#status")).to_contain_text("dropped.jpg: 1 face", timeout=30_000)
    assert page.locator(".face .bar").count() == 7

    # A refused upload is shown as a message, not an exception.
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo\n")
    page.set_input_files("#file", str(notes))
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "not an image" in page.locator("#status").inner_text()

    foreign = [url for url in page.requested
               if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname != "127.0.0.1"]
    assert foreign == [], foreign
    # The refused upload's 415 is logged by Chromium as a failed resource; nothing else may be.
    errors = [e for e in page.console_errors if "415" not in e]
    assert errors == [], errors
