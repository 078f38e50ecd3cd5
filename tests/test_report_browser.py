"""The report in headless Chromium: videos load, filters and search work, no script errors."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from data.media_fixtures import wav
from factories import local_png, spec
from seeding import SIM_CLIP, seed_run

from runner.core.tasks import MediaItem, MediaRef, TaskState
from runner.journal.store import JOURNAL_NAME, Store
from runner.outputs.report import write_report
from runner.simulator.scenes import Scene
from runner.simulator.video import clip_bytes

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
        reason="needs Debian's chromium and chromium-driver",
    ),
]
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1366,1400",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the module, with a fresh profile and the console log captured."""
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: Any, condition: str, timeout: float = 10.0) -> Any:
    """Poll a JS expression until it is truthy (the browser works asynchronously; this is not a sleep)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(f"return {condition};")
    )


def _cards(driver: Any) -> list[tuple[str, str]]:
    script = "return [...document.querySelectorAll('#grid .card')].map(c => [c.dataset.id, c.dataset.state]);"
    return [(task, state) for task, state in driver.execute_script(script)]


def _script_errors(driver: Any) -> list[str]:
    """Severe console entries, except offline fetches of http(s) input images (no network in tests)."""
    entries = driver.get_log("browser")
    return [
        entry["message"]
        for entry in entries
        if entry["level"] == "SEVERE"
        and not (entry["source"] == "network" and entry["message"].startswith("http"))
    ]


@pytest.fixture
def opened_report(tmp_path: Path, browser: Any) -> tuple[Path, Any]:
    """A seeded run's report, open in the browser, drained of console entries from earlier pages."""
    run = tmp_path / "run"
    with seed_run(run, tmp_path / "in") as store:
        report = write_report(run, store)
    browser.get_log("browser")
    browser.get(report.as_uri())
    _wait(browser, "document.querySelectorAll('#grid .card').length > 0")
    return run, browser


def test_report_videos_point_at_files_and_load(opened_report: tuple[Path, Any]) -> None:
    """Every <video> source exists on disk, and the first one loads its metadata without a media error."""
    run, driver = opened_report
    sources = driver.execute_script(
        "return [...document.querySelectorAll('video')].map(v => v.getAttribute('src'));"
    )
    assert sources == ["videos/fox-1.mp4", "videos/fox-2.mp4", "videos/remote.mp4"]
    assert all((run / source).is_file() for source in sources)
    driver.execute_script("const v = document.querySelector('video'); v.preload = 'metadata'; v.load();")
    _wait(
        driver,
        "(() => { const v = document.querySelector('video'); return v.readyState >= 1 || v.error; })()",
    )
    error = driver.execute_script("const e = document.querySelector('video').error; return e && e.code;")
    if SIM_CLIP.is_file():  # a real clip decodes; the signature-only stand-in cannot
        assert error is None
        assert driver.execute_script("return document.querySelector('video').duration;") > 0
    images = driver.execute_script(
        "return [...document.querySelectorAll('img')].filter(i => !i.src.startsWith('http'))"
        ".map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);"
    )
    assert images and all(loaded and (run / src).is_file() for src, loaded in images)


def test_report_filters_by_state_and_problems(opened_report: tuple[Path, Any]) -> None:
    """The 'failed' chip shows only failed cards; 'Problems' shows failed and expired ones, highlighted."""
    run, driver = opened_report
    driver.find_element("css selector", "button[data-filter='failed']").click()
    assert _cards(driver) == [("owl-1", "failed")]
    driver.find_element("css selector", "button[data-filter='problems']").click()
    assert _cards(driver) == [("owl-1", "failed"), ("owl-2", "expired")]
    assert driver.execute_script("return document.querySelectorAll('#grid .card.problem').length;") == 2
    driver.find_element("css selector", "button[data-filter='all']").click()
    assert len(_cards(driver)) == 6
    driver.save_screenshot(str(run / "report.png"))
    assert (run / "report.png").stat().st_size > 10_000
    assert _script_errors(driver) == []


def test_report_search_and_model_filter(opened_report: tuple[Path, Any]) -> None:
    """Typing in the search box narrows the cards; user text with <script> shows as text, never runs."""
    from selenium.webdriver.support.ui import Select

    _, driver = opened_report
    search = driver.find_element("id", "search")
    search.send_keys("owl")
    assert [task for task, _ in _cards(driver)] == ["owl-1", "owl-2"]
    Select(driver.find_element("id", "model-filter")).select_by_value("wan2.5-i2v-preview")
    assert [task for task, _ in _cards(driver)] == ["owl-1"]
    Select(driver.find_element("id", "model-filter")).select_by_value("")
    search.clear()
    search.send_keys("<script>")
    assert [task for task, _ in _cards(driver)] == ["fox-2"]
    prompt = driver.find_element("css selector", "#grid .card .prompt").text
    assert prompt.endswith("<script>alert(1)</script>")
    assert driver.execute_script("return document.scripts.length;") == 2
    assert _script_errors(driver) == []


def _done(store: Store, run: Path, task: str, clip: bytes) -> None:
    path = run / "videos" / f"{task}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip)
    store.set_state(task, TaskState.DONE, attempts=1, task_id=f"tid-{task}", video_path=f"videos/{task}.mp4")


def test_tall_wide_and_square_videos_share_one_media_box(tmp_path: Path, browser: Any) -> None:
    """Videos of every aspect are letterboxed in the same 16:9 box, so no card is taller for its
    video and a row of cards leaves no gap."""
    shapes = {"tall": (90, 160), "wide": (160, 90), "square": (90, 90), "strip": (360, 90)}
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks([spec(name, f"A {name} scene", model="wan2.7-t2v", media=()) for name in shapes])
        for name, (width, height) in shapes.items():
            _done(store, tmp_path, name, clip_bytes(Scene(width, height, 10, caption=name)))
        report = write_report(tmp_path, store)
    browser.get(report.as_uri())
    _wait(browser, "[...document.querySelectorAll('video')].every(v => v.readyState >= 1)")
    boxes = browser.execute_script(
        "return [...document.querySelectorAll('.media')].map(m => {"
        " const b = m.getBoundingClientRect(), v = m.querySelector('video').getBoundingClientRect();"
        " return [b.width, b.height, v.width, v.height, m.closest('.card').getBoundingClientRect().height];"
        " });"
    )
    widths, heights = {round(b[0]) for b in boxes}, {round(b[1]) for b in boxes}
    assert len(widths) == 1 and len(heights) == 1, boxes
    assert abs(boxes[0][0] * 9 / 16 - boxes[0][1]) <= 1
    assert all((round(b[2]), round(b[3])) == (round(b[0]), round(b[1])) for b in boxes)
    assert len({round(b[4]) for b in boxes}) == 1, "equal cards: the video decides no card's height"
    assert _script_errors(browser) == []


def _sha256(path: Path) -> str:
    """The hash a manifest records for a local input (its copy in inputs/ is checked against it)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_card_shows_every_input_and_the_negative_prompt(tmp_path: Path, browser: Any) -> None:
    """First frame, last frame, a reference video and audio each appear under their role, from
    the copies in inputs/; the negative prompt is on the card."""
    folder = tmp_path / "in"
    clip = folder / "pan.mp4"
    folder.mkdir()
    clip.write_bytes(clip_bytes(Scene(160, 90, 10)))
    beat = folder / "beat.wav"
    beat.write_bytes(wav(1.0))
    video = MediaRef("video", path=str(clip), sha256=_sha256(clip), mime="video/mp4")
    audio = MediaRef("audio", path=str(beat), sha256=_sha256(beat), mime="audio/wav")
    media = (
        MediaItem("first_frame", local_png(folder / "first.png", rgb=(200, 40, 40))),
        MediaItem("last_frame", local_png(folder / "last.png", rgb=(40, 40, 200))),
        MediaItem("reference_video", video),
        MediaItem("driving_audio", audio),
    )
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks([spec("all", "A flight", media=media, negative_prompt="blurry, watermark")])
        report = write_report(tmp_path, store)
    browser.get(report.as_uri())
    _wait(
        browser,
        "document.querySelector('.inputs video') && document.querySelector('.inputs video').readyState >= 1",
    )
    captions = browser.execute_script(
        "return [...document.querySelectorAll('.inputs figcaption')].map(c => c.textContent);"
    )
    assert captions == ["first frame", "last frame", "reference video", "driving audio"]
    loaded = browser.execute_script(
        "return [...document.querySelectorAll('.inputs img')].map(i => i.complete && i.naturalWidth > 0);"
    )
    assert loaded == [True, True]
    links = browser.execute_script(
        "return [...document.querySelectorAll('.inputs a')].map(a => a.getAttribute('href'));"
    )
    assert len(links) == 4 and all((tmp_path / link).is_file() for link in links)
    negative = browser.find_element("css selector", ".card .negative").text
    assert negative == "Negative: blurry, watermark"
    assert _script_errors(browser) == []


@pytest.mark.slow
def test_report_of_10k_tasks_opens_fast_and_pages(tmp_path: Path, browser: Any) -> None:
    """A 10,000-task report renders its first page of 60 cards in under 2 s, and paging works."""
    image = MediaRef("image", url="https://example.com/a.png")
    specs = [
        spec(f"t{i:05d}", f"Scene {i}: a lighthouse at dawn", image=image, seed=i) for i in range(10_000)
    ]
    with Store.open(tmp_path / JOURNAL_NAME) as store:
        store.add_tasks(specs)
        report = write_report(tmp_path, store)
    started = time.perf_counter()
    browser.get(report.as_uri())
    _wait(browser, "document.querySelectorAll('#grid .card').length === 60")
    assert time.perf_counter() - started < 2.0
    browser.find_element("xpath", "//nav[@id='pager']/button[normalize-space()='167']").click()
    assert [task for task, _ in _cards(browser)] == [f"t{i:05d}" for i in range(9960, 10_000)]
    assert "9961–10000 of 10000" in browser.find_element("id", "result-count").text
