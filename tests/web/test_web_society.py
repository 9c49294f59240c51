"""Build a society in the browser, save its file, and run it."""
from __future__ import annotations

import re

import pytest
import requests


def test_build_and_run_a_society(page, node):
    page.goto(node.url + "/ui/societies/new")
    page.get_by_label("Name").fill("ui-duo")
    page.get_by_label("minds/hello-python").check()
    page.get_by_label("minds/hello-c").check()
    page.get_by_label("Rule").select_option("vote")
    page.get_by_role("button", name="Save the society, then run it").click()
    page.wait_for_url(re.compile(r"/ui/runs/new\?"))
    assert "Saved the society minds/ui-duo" in page.get_by_role("status").text_content()
    assert page.get_by_label("Minds on this gateway").input_value() == "minds/ui-duo"
    saved = (node.root / "minds" / "ui-duo" / "society.xml").read_text()
    assert 'rule="vote"' in saved and 'href="../hello-python"' in saved and 'href="../hello-c"' in saved

    page.get_by_label("World on this gateway").select_option("worlds/hello-python")
    page.get_by_label("Steps").fill("25")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(re.compile(r"/ui/runs/[0-9a-f]{16}$"))
    page.wait_for_function("() => document.getElementById('status').textContent !== 'running'", timeout=90000)
    assert page.locator("#status").text_content() in ("ended", "done"), page.locator("#error").text_content()
    assert int(page.locator("#step").text_content()) == 25

    page.goto(node.url + "/ui/")
    row = page.locator('tr[data-server="minds/ui-duo"]')
    assert "society" in row.text_content()
    file_url = row.get_by_role("link", name="Society file").get_attribute("href")
    assert requests.get(node.url + file_url, timeout=10).text == saved


@pytest.mark.error_page
def test_a_society_name_that_exists_is_refused(page, node):
    page.goto(node.url + "/ui/societies/new")
    page.get_by_label("Name").fill("hello-python")
    page.get_by_label("minds/popularity").check()
    page.get_by_role("button", name="Save the society, then run it").click()
    assert "exists already" in page.get_by_role("alert").text_content()
