"""The node page (actors, followers, groups, graph) and the actors' profile pages."""
from __future__ import annotations

from xml.etree import ElementTree

import requests


def test_the_node_shows_its_actors_and_groups(page, node):
    page.goto(node.url + "/ui/node")
    host = node.url.split("://")[1]
    table = page.locator("#actors")
    for name in ("node", "fungus", "hello-python", "songs"):
        assert table.get_by_role("link", name=f"@{name}@{host}").count() == 1
    assert "learns alone" in page.locator("#groups").text_content()
    assert page.locator("#graph [data-kind=self]").count() == 1
    with page.expect_download() as info:
        page.get_by_role("button", name="Export the graph as PNG").click()
    with open(info.value.path(), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_an_actors_url_is_its_profile_page(page, node):
    doc = requests.get(node.url + "/ap/actors/fungus", headers={"Accept": "application/activity+json"},
                       timeout=10).json()
    page.goto(doc["url"])
    assert page.get_by_role("heading", level=1).text_content().strip()
    assert f"@fungus@{node.url.split('://')[1]}" in page.locator(".handle").text_content()
    avatar = page.get_by_role("img", name="Avatar of fungus")
    assert avatar.evaluate("img => img.complete && img.naturalWidth") == 120
    icon = requests.get(doc["icon"]["url"], timeout=10)
    assert icon.headers["Content-Type"] == "image/png" and icon.content.startswith(b"\x89PNG")
    page.get_by_role("link", name="Ask fungus for songs").click()
    page.wait_for_url("**/ui/songs")


def test_browsers_following_an_actor_id_land_on_the_profile(page, node):
    page.goto(node.url + "/ap/actors/node")
    assert page.url == node.url + "/ui/actors/node"
    page.get_by_role("link", name="See the node").click()
    page.wait_for_url("**/ui/node")


def test_the_graph_grows_live_when_another_node_follows(page, node, tmp_path):
    from webkit import Node

    from wwm.federation.service import Federation
    from wwm.mycelium import follow

    page.goto(node.url + "/ui/node")
    assert page.locator("#graph [data-kind=peer]").count() == 0
    other = Node(tmp_path)
    try:
        fed = Federation({"ROOT": str(other.root), "FEDERATION_BASE_URL": other.url,
                          "FEDERATION_DIR": str(tmp_path / "state"), "ALLOW_PRIVATE_FETCH": True})
        try:
            follow(fed, "node", node.url + "/ap/actors/node")  # queued here, signed and sent by the other node
        finally:
            fed.close()
        # no reload: the page redraws the graph from /ui/node.json
        page.locator("#graph [data-kind=peer]").wait_for(timeout=60000)
        assert other.url.split("://")[1] in page.locator("#graph").text_content()
        svg = requests.get(node.url + "/ui/node/history.svg", timeout=10)
        assert svg.headers["Content-Type"].startswith("image/svg+xml")
        root = ElementTree.fromstring(svg.content)  # our own output, well-formed
        sets = root.findall(".//{http://www.w3.org/2000/svg}set")
        assert sets and all(float(s.get("begin").rstrip("s")) > 0 for s in sets)  # the peer appears later
    finally:
        other.stop()
