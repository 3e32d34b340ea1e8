"""The vote page in a real headless Chromium, with the three functions as real servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.vote.settings import VoteSettings
from tests.support.functions_servers import StackFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium"),
]


async def test_voting_and_the_feature_flag_in_a_real_browser(stack: StackFactory) -> None:
    from playwright.async_api import async_playwright, expect

    s = await stack(
        vote=VoteSettings(function_version="1.0", showdetails=True, featureflag=True),
        analytics_version="1.1",
    )
    url = str(s.vote.make_url("/"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(url)
            await expect(page.locator("#results")).to_have_text("Cats: 0/0 (0%) | Dogs: 0/0 (0%)")

            for button in ("#vote1", "#vote1", "#vote2"):
                async with page.expect_navigation():
                    await page.click(button)
            await expect(page.locator("#results")).to_have_text("Cats: 2/3 (67%) | Dogs: 1/3 (33%)")
            await expect(page.locator("#analytics-version")).to_have_text("1.1")
            await expect(page.locator("#store")).to_have_text("redis")

            await expect(page.locator("button#featureflag-set")).to_be_visible()
            await expect(page.locator("span#featureflag-clear")).to_have_class("active")
            async with page.expect_navigation():
                await page.click("#featureflag-set")
            await expect(page.locator("span#featureflag-set")).to_have_class("active")
            await expect(page.locator("button#featureflag-clear")).to_be_visible()
            cookies = {c["name"]: c for c in await context.cookies()}
            assert cookies["featureflag"]["value"] == "on"
            assert cookies["featureflag"]["path"] == "/"
        finally:
            await browser.close()
