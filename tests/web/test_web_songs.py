"""Ask the fungus Mind for songs from the page, with the keyboard only; labels on every control."""
from __future__ import annotations

import pytest
from webkit import controls_count, unlabelled_controls


def test_ask_the_fungus_mind_for_songs_with_the_keyboard(page, node):
    page.goto(node.url + "/ui/songs")
    assert page.get_by_label("Mind").input_value() == "minds/fungus"
    for _ in range(30):  # Tab through the page to the text field, as a keyboard user would
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "text":
            break
    else:
        pytest.fail("the text field cannot be reached with Tab")
    page.keyboard.type("songs like Enter Sandman")
    page.keyboard.press("Enter")
    answer = page.locator("#answer")
    answer.wait_for(timeout=90000)
    assert "Enter Sandman" in answer.get_by_role("heading").text_content()
    items = answer.get_by_role("listitem").all_text_contents()
    assert 5 <= len(items) <= 10 and all(" — " in i for i in items)


@pytest.mark.parametrize("path", ["/ui/", "/ui/runs/new", "/ui/scores", "/ui/societies/new", "/ui/songs",
                                  "/ui/node", "/ui/actors/fungus"])
def test_every_control_has_a_label(page, node, path):
    page.goto(node.url + path)
    assert controls_count(page) > 0
    assert unlabelled_controls(page) == []
