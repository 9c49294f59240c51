"""Start a run from the browser and watch it live; stop one; see it on the scoreboard."""
from __future__ import annotations

import re

import pytest
from webkit import unlabelled_controls


def start(page, node, world, mind, steps, pace):
    page.goto(node.url + "/ui/runs/new")
    page.get_by_label("World on this gateway").select_option(world)
    page.get_by_label("Minds on this gateway").select_option(mind)
    page.get_by_label("Steps").fill(str(steps))
    page.get_by_label("Pause after each step").fill(str(pace))
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url(re.compile(r"/ui/runs/[0-9a-f]{16}$"))


def test_start_a_run_and_see_its_score_move(page, node):
    start(page, node, "worlds/hello-python", "minds/hello-python", 80, 40)
    step = page.locator("#step")
    page.wait_for_function("() => +document.getElementById('step').textContent >= 5")
    first_score = page.locator("#score").text_content()
    first_step = int(step.text_content())
    page.wait_for_function("s => +document.getElementById('step').textContent > s + 10", arg=first_step)
    page.wait_for_function("() => document.getElementById('status').textContent !== 'running'", timeout=60000)
    assert page.locator("#status").text_content() in ("ended", "done")
    assert int(step.text_content()) == 80
    assert page.locator("#score").text_content() != first_score  # the World's score rose while we watched
    points = page.locator("#line").get_attribute("points").split()
    assert len(points) >= 10 and len({p.split(",")[1] for p in points}) > 1  # the chart's line is not flat
    assert page.locator("#state").text_content().strip() and page.locator("#action").text_content().strip()
    assert page.get_by_role("button", name="Stop the run").is_disabled()
    assert unlabelled_controls(page) == []


def test_stop_a_run(page, node):
    start(page, node, "worlds/house", "minds/house-random", 5000, 100)
    page.wait_for_function("() => +document.getElementById('step').textContent >= 2")
    page.get_by_role("button", name="Stop the run").click()
    page.wait_for_function("() => document.getElementById('status').textContent === 'stopped'", timeout=30000)
    assert int(page.locator("#step").text_content()) < 5000


def test_scoreboard_lists_and_plots_runs(page, node):
    start(page, node, "worlds/hello-python", "minds/hello-python", 30, 0)
    page.wait_for_function("() => document.getElementById('status').textContent !== 'running'", timeout=60000)
    page.goto(node.url + "/ui/scores")
    assert page.locator("tbody tr").count() >= 1
    assert page.locator("#score-plot polyline").count() >= 1
    page.get_by_label("World contains").fill("house")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"world=house"))
    worlds = page.locator("tbody tr td:nth-child(2)").all_text_contents()
    assert worlds and all("house" in w for w in worlds)
    page.get_by_label("World contains").fill("no-such-world")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"world=no-such-world"))
    assert "No runs recorded yet" in page.locator("tbody").text_content()


@pytest.mark.error_page
def test_a_bad_form_shows_an_error_not_a_trace(page, node):
    page.goto(node.url + "/ui/runs/new")
    page.get_by_label("World on this gateway").select_option("worlds/hello-python")
    page.get_by_role("button", name="Start the run").click()
    alert = page.get_by_role("alert")
    assert "at least one Mind" in alert.text_content()
    assert "Traceback" not in page.content()


def test_a_world_by_url_is_recorded_on_the_scoreboard(page, node):
    import requests

    world = node.url + "/wwm/worlds/hello-python"
    page.goto(node.url + "/ui/runs/new")
    page.get_by_label("or a World's URL").fill(world)
    page.get_by_label("Minds on this gateway").select_option("minds/hello-python")
    page.get_by_label("Steps").fill("12")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_function("() => document.getElementById('status').textContent !== 'running'", timeout=60000)
    assert page.locator("#status").text_content() in ("ended", "done")
    runs = requests.get(node.url + "/scores", params={"format": "json", "world": world}, timeout=10).json()["runs"]
    assert any(r["source"] == "client" and r["world"] == world and r["steps"] == 12 for r in runs), runs


def test_world_parameters_are_set_per_run(page, node):
    page.goto(node.url + "/ui/runs/new?world=worlds/songs")
    page.get_by_label("Minds on this gateway").select_option("minds/popularity")
    page.get_by_label("World parameters").fill("community=metal\nsteps=6")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_function("() => document.getElementById('status').textContent !== 'running'", timeout=90000)
    assert page.locator("#status").text_content() == "done", page.locator("#error").text_content()
    assert int(page.locator("#step").text_content()) == 6  # the World's own steps, not the form's 100
    assert "community=metal" in page.locator("dl.facts").text_content()


@pytest.mark.error_page
def test_a_parameter_the_world_does_not_declare_is_refused(page, node):
    page.goto(node.url + "/ui/runs/new?world=worlds/songs")
    page.get_by_label("Minds on this gateway").select_option("minds/popularity")
    page.get_by_label("World parameters").fill("colour=blue")
    page.get_by_role("button", name="Start the run").click()
    assert "colour" in page.get_by_role("alert").text_content()
