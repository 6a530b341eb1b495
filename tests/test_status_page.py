"""The status page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the real demo.

The demo (:class:`tests.support.demo.ThreadedDemo`: the simulated city on the wire, the service polling it every
5 s, with its history in a temporary file) serves the pages; Chromium loads them as a person would. The checks:
the overview renders (title, counts), the map has one element per device and one line per upstream link, a
fibre cut turns the switch red and its subtree grey within a poll interval and a page refresh (the page's own
script refreshes it), the incident appears with its root cause, the public page shows no operator data (the DOM
is searched for device ids of routers and switches, IP addresses and root causes), the essentials work with
JavaScript off, and the device page shows interfaces and WLAN clients. Screenshots go to
``var/test-artefacts/`` (git-ignored); their paths are printed.

Playwright's own browser download is never used: ``executable_path`` points at the Debian package
(scripts/install-test-deps.sh installs it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import playwright.sync_api as playwright_api  # the test extra: a missing one fails, never skips
import pytest

from tests.support.demo import ThreadedDemo

REPO = Path(__file__).resolve().parents[1]
ARTEFACTS = REPO / "var" / "test-artefacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INTERVAL = 5.0
DEVICES = 200
CUT = "dist-003"
IPV4 = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


@pytest.fixture(scope="module")
def demo() -> Iterator[ThreadedDemo]:
    with ThreadedDemo(devices=DEVICES, interval=INTERVAL, history=True) as running:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # every device observed once
            states = running.service.state.devices.values()
            if all(s.health.value != "unknown" for s in states):
                break
            time.sleep(0.5)
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-test-deps.sh (it installs Debian's chromium)")
    # launch() starts Chromium with a fresh --user-data-dir of its own (a temporary directory it removes)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


def screenshot(page: object, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"status-page-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def subtree(demo: ThreadedDemo, root: str) -> list[str]:
    return demo.service.reachability.board.topology.descendants(root)


def test_overview_renders_with_counts_and_a_map_of_every_device_and_link(demo: ThreadedDemo, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(demo.url)
    assert page.title() == "Stadtnetz Musterstadt: network status"
    assert page.locator("h1").inner_text() == "Stadtnetz Musterstadt: network status"
    counts = page.locator("#counts").inner_text()
    for word in ("up", "degraded", "down", "unreachable", "unknown"):
        assert word in counts
    assert page.locator("#total").inner_text().startswith(f"{DEVICES} devices")
    city = demo.simulation.city.devices
    points = page.locator("svg.map [id^='dev-'][data-device]")
    assert points.count() == len(city)
    assert {points.nth(i).get_attribute("data-device") for i in range(points.count())} == {d.id for d in city}
    links = page.locator("svg.map line[id^='link-']")
    assert links.count() == sum(1 for d in city if d.upstream)
    heading = page.locator("svg.map > title").text_content()
    assert heading.endswith(f"map of {len(city)} devices and {links.count()} links")
    assert page.locator(f"#dev-{CUT} title").text_content().startswith(f"{CUT} (distribution_switch)")
    screenshot(page, "overview")
    page.close()


def test_a_fibre_cut_turns_the_switch_red_and_its_subtree_grey_then_the_incident_shows(
    demo: ThreadedDemo, browser
) -> None:
    behind = subtree(demo, CUT)
    assert len(behind) >= 10
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(demo.url)
    assert page.locator("#auto-refresh").is_checked()  # the script is on: the page refreshes itself
    assert page.locator(f"#dev-{CUT}").get_attribute("data-status") == "up"
    status, done = demo.scenario(f"fibre-cut {CUT}")
    assert status == 200, done
    cut_at = time.monotonic()
    # one poll interval for the evidence, one snapshot second, one page refresh (every poll interval)
    page.wait_for_function(
        """([cut, behind]) => {
            const switchNode = document.getElementById("dev-" + cut);
            return switchNode && switchNode.dataset.status === "down" && behind.every(
                id => document.getElementById("dev-" + id).dataset.status === "unreachable");
        }""",
        arg=[CUT, behind],
        timeout=(3 * INTERVAL + 5) * 1000,
    )
    took = time.monotonic() - cut_at
    print(f"the page showed the cut {took:.1f} s after it (poll interval {INTERVAL:g} s, refresh {INTERVAL:g} s)")
    assert took <= 2 * INTERVAL + 3
    assert page.locator(f"#dev-{CUT}").get_attribute("fill") == "#cf222e"  # red
    assert {page.locator(f"#dev-{i}").get_attribute("fill") for i in behind} == {"#6e7781"}  # grey
    assert page.locator(f"#link-{behind[0]}").get_attribute("data-status") == "unreachable"
    outage = page.locator("table.outages tbody tr").filter(has_text=CUT)
    assert outage.count() == 1 and f"{len(behind)} devices behind it" in outage.inner_text()
    # the incident, from the history's outage log (written within seconds, read every poll interval)
    page.wait_for_function(
        """(cut) => [...document.querySelectorAll("table.incidents tbody tr")].some(
            row => row.cells[0].innerText === cut && row.cells[3].innerText.includes("ongoing"))""",
        arg=CUT,
        timeout=(4 * INTERVAL + 10) * 1000,
    )
    incident = page.locator("table.incidents tbody tr").filter(has_text=CUT).first
    assert incident.locator("td").nth(0).inner_text() == CUT  # its root cause
    screenshot(page, "fibre-cut")
    page.close()


def test_the_public_page_shows_no_operator_data(demo: ThreadedDemo, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(demo.url + "public")
    assert page.title() == "Stadtnetz Musterstadt: Freies WLAN und Ladesäulen"
    assert page.locator("html").get_attribute("lang") == "de"
    summary = page.locator("#public-counts").inner_text()
    assert "WLAN-Hotspots in Betrieb" in summary and "Ladepunkte frei" in summary
    dom = page.content()
    city = demo.simulation.city
    for device in city.devices:
        assert f">{device.id}<" not in dom and f'"{device.id}"' not in dom and f"dev-{device.id}" not in dom, device.id
        assert device.address not in dom
    assert not [d.id for d in city.devices if d.kind in ("core_router", "distribution_switch") and d.id in dom]
    assert not IPV4.findall(dom)
    assert "root cause" not in dom.lower() and "root_cause" not in dom
    for charger in city.chargers:
        assert charger.id not in dom
    # the public documents behind it say nothing more
    for path in ("public/map.svg", "public/feed.atom", "api/public/status"):
        text = page.request.get(demo.url + path).text()
        assert not IPV4.findall(text) and "root" not in text.lower(), path
        assert not [d.id for d in city.devices if re.search(rf"\b{re.escape(d.id)}\b", text)], path
    hotspots = page.locator("svg.map [data-kind='hotspot']")
    assert hotspots.count() > 0 and hotspots.first.locator("title").text_content().startswith("WLAN ")
    screenshot(page, "public")
    page.set_viewport_size({"width": 320, "height": 700})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320  # nothing wider than a small phone
    screenshot(page, "public-320px")
    page.close()


def test_the_essentials_work_without_javascript(demo: ThreadedDemo, browser) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1024, "height": 800})
    page = context.new_page()
    page.goto(demo.url)
    assert page.locator("#auto-refresh").count() == 0  # the script did not run
    assert page.locator("#counts").inner_text()
    assert page.locator("svg.map [id^='dev-']").count() == DEVICES
    assert page.locator("h2").all_inner_texts()[:5] == ["Devices", "Current outages", "Maintenance", "Incidents",
                                                          "Map"]
    page.goto(demo.url + "public")
    assert "WLAN-Hotspots in Betrieb" in page.locator("#public-counts").inner_text()
    page.goto(demo.url + "devices/hs-0001")
    assert page.locator("table.interfaces tbody tr").count() >= 1
    screenshot(page, "no-javascript")
    context.close()


def test_the_device_page_shows_interfaces_clients_and_poll(demo: ThreadedDemo, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    hotspot = next(d for d in demo.simulation.city.devices if d.kind == "hotspot" and d.upstream != CUT)
    page.goto(demo.url + f"devices/{hotspot.id}")
    assert page.locator("h1").inner_text() == f"{hotspot.id} (hotspot)"
    names = page.locator("table.interfaces tbody tr td:nth-child(2)").all_inner_texts()
    assert "eth0" in names
    bands = page.locator("table.wlan tbody tr td:first-child").all_inner_texts()
    assert bands and all("GHz" in band for band in bands)
    facts = page.locator("dl.facts").inner_text()
    assert "Last seen" in facts and "Poll duration" in facts and "Status" in facts
    assert page.locator(".bar-one svg.bars rect").count() == 90
    switch = next(d for d in demo.simulation.city.devices if d.kind == "core_router")
    page.goto(demo.url + f"devices/{switch.id}")
    assert page.locator("table.optics tbody tr").count() >= 1
    assert page.locator("table.interfaces tbody tr").count() >= 2
    screenshot(page, "device")
    page.set_viewport_size({"width": 320, "height": 700})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.close()
