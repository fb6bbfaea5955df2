"""The status page in a real headless Chromium, over real HTTP to `poller web`, on a table that
a real cycle on the simulators filled; on SQLite and on PostgreSQL (POLLER_TEST_POSTGRES_URL)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from poller.sandbox import Sandbox
from tests.e2e.browser import chromium, require_browser
from tests.e2e.harness import make_poller
from tests.e2e.webserver import HOSTILE_NAME, add_hostile_hire, web_server
from tests.support.config import POLLER, clean_env

pytestmark = pytest.mark.browser

PAGE_SIZE = 3


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=23, hires=8) as sb:
        yield sb


def test_status_page_in_a_browser(tmp_path: Path, sandbox: Sandbox, db_url: str) -> None:
    require_browser()
    from selenium.common.exceptions import NoAlertPresentException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    hostile = add_hostile_hire(sandbox)
    poller = make_poller(tmp_path, sandbox, db_url, {"web": {"page_size": PAGE_SIZE}})
    try:
        assert poller.run().ok
        counts = poller.ledger.counts()
        total = sum(counts.values())
    finally:
        poller.close()
    assert counts["done"] >= 2 and total > PAGE_SIZE
    config = tmp_path / "config.toml"

    def no_alert() -> bool:
        try:
            driver.switch_to.alert  # noqa: B018 - raises when there is none, as there must be
        except NoAlertPresentException:
            return True
        return False

    def go(by: str, value: str) -> None:
        """Click a link or button and wait for the next page to replace this one."""
        page = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(by, value).click()

        def replaced(_: object) -> bool:
            try:
                return bool(expected_conditions.staleness_of(page)(driver))
            except WebDriverException as exc:
                # Mid-navigation chromedriver may answer the probe with an inspector error
                # ("Node with given id does not belong to the document") rather than "stale"
                # (seen once in CI): the old page is going, so look again.
                if "does not belong to the document" in (exc.msg or ""):
                    return False
                raise

        WebDriverWait(driver, 10).until(replaced)

    def text(css: str) -> str:
        return str(driver.find_element(By.CSS_SELECTOR, css).get_attribute("textContent"))

    with web_server(config) as web, chromium() as driver:
        # -- the overview: counts, the last cycle, hires per day ---------------------------
        driver.get(web.url + "/")
        assert driver.title.startswith("Status")
        for state, n in counts.items():
            assert text(f"td[data-state='{state}']") == str(n)
        assert text("#last-cycle").split()[0] == "ok"
        bars = driver.find_elements(By.CSS_SELECTOR, "#hires-chart rect.bar")
        assert len(bars) == 30
        assert sum(int(str(b.get_attribute("data-hires"))) for b in bars) == counts["done"]
        assert int(str(bars[-1].get_attribute("height"))) == 100  # every hire is today's
        # Our own stylesheet loaded under the CSP (the header has its white background).
        header_bg = driver.execute_script(
            "return getComputedStyle(document.querySelector('header')).backgroundColor"
        )
        assert header_bg == "rgb(255, 255, 255)"

        # -- the table: newest first, paged, filtered by state --------------------------------
        go(By.LINK_TEXT, "Applications")
        pages = -(-total // PAGE_SIZE)
        assert text("#summary").startswith(f"{total} rows, page 1 of {pages}")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#rows tbody tr")) == PAGE_SIZE
        ids_shown = "td.col-application_id"
        first_page = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ids_shown)]
        go(By.ID, "next")
        assert text("#summary").startswith(f"{total} rows, page 2 of {pages}")
        second_page = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ids_shown)]
        assert not set(first_page) & set(second_page)
        Select(driver.find_element(By.ID, "state")).select_by_value("done")
        go(By.ID, "apply")
        assert "state=done" in driver.current_url
        assert text("#summary").startswith(f"{counts['done']} row")
        states = {e.text for e in driver.find_elements(By.CSS_SELECTOR, "td.col-state")}
        assert states == {"done"}

        # -- search for the hostile name: it is text, and no script ran -----------------------
        Select(driver.find_element(By.ID, "state")).select_by_value("")
        box = driver.find_element(By.ID, "q")
        box.clear()
        box.send_keys("<script>")
        go(By.ID, "apply")
        assert text("#summary").startswith("1 row")
        assert text("td.col-candidate_name") == HOSTILE_NAME
        assert driver.find_elements(By.TAG_NAME, "script") == []
        assert no_alert()

        # -- one application: the same fields and history as `poller show` -------------------
        go(By.LINK_TEXT, hostile)
        assert text("#app-id") == hostile
        assert text("td[data-field='candidate_name']") == HOSTILE_NAME
        assert driver.find_elements(By.TAG_NAME, "script") == []
        assert no_alert()
        fields = [
            (str(th.get_attribute("textContent")), str(td.get_attribute("textContent")))
            for th, td in zip(
                driver.find_elements(By.CSS_SELECTOR, "#fields th"),
                driver.find_elements(By.CSS_SELECTOR, "#fields td"),
                strict=True,
            )
        ]
        history = [
            [str(td.get_attribute("textContent")) for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        ]
        # The page loaded its stylesheet and icon and broke no CSP rule.
        problems = [
            entry["message"]
            for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" or "Content Security Policy" in entry["message"]
        ]
        assert problems == []

    show = subprocess.run(
        [*POLLER, "--config", str(config), "show", hostile],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=True,
    ).stdout.splitlines()
    width = max(len(name) for name, _ in fields)
    assert [f"{name:<{width}}  {value}".rstrip() for name, value in fields] == [
        line.rstrip() for line in show[: len(fields)]
    ]
    assert show[show.index("history:") + 1 :] == [
        f"  {at}  {attempt:<3} {step:<9} {outcome}" + (f"  {message}" if message else "")
        for at, attempt, step, outcome, message, _worker in history
    ]
