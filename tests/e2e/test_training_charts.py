"""An editor opens training runs, a model version and the registry in a real browser: Chart.js
draws each chart on its canvas (the numbers are in the page either way), and a running run's
chart is drawn again after each htmx refresh."""

import pytest
from django.urls import reverse

from accounts.roles import Role
from tests.accounts.factories import UserFactory
from tests.training.factories import ModelVersionFactory, TrainingRunFactory, loss_points
from training.models import TrainingRun

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# How many lines Chart.js holds for the canvas, once it has painted some pixels on it.
DRAWN = """canvas => {
  const chart = Chart.getChart(canvas);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  return chart && pixels.some(value => value !== 0) ? chart.data.datasets.length : 0;
}"""


def test_the_loss_checkpoint_and_version_charts_are_drawn(sign_in, live_server) -> None:  # noqa: ANN001
    editor = UserFactory(roles=[Role.EDITOR])
    version = ModelVersionFactory()
    page = sign_in(editor)

    page.goto(live_server.url + reverse("training:run", args=[version.run_id]))
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas'))")
    assert page.locator("figure.chart canvas").evaluate(DRAWN) == 1  # training loss

    page.goto(live_server.url + reverse("training:version", args=[version.id]))
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas'))")
    assert page.locator("figure.chart canvas").evaluate(DRAWN) == 3  # tuned, base, the chosen one

    page.goto(live_server.url + reverse("training:versions"))
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas'))")
    assert page.locator("figure.chart canvas").evaluate(DRAWN) == 2  # tuned and base
    page.click("figure.chart summary")
    assert "14.2" in page.inner_text("figure.chart details")


def test_a_running_runs_chart_is_drawn_again_after_each_refresh(sign_in, live_server) -> None:  # noqa: ANN001
    editor = UserFactory(roles=[Role.EDITOR])
    run = TrainingRunFactory(
        status=TrainingRun.Status.RUNNING, step=5, total_steps=20, points=loss_points(5)
    )
    page = sign_in(editor)
    page.goto(live_server.url + reverse("training:run", args=[run.id]))
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas'))")
    page.evaluate("document.querySelector('figure.chart canvas').dataset.first = 'yes'")
    # htmx swaps #run-live every 2 s: a new canvas, drawn, and the old chart let go.
    page.wait_for_function(
        "() => (c => c && !c.dataset.first && Chart.getChart(c))(document.querySelector('canvas'))",
        timeout=10_000,
    )
    assert page.locator("figure.chart canvas").evaluate(DRAWN) == 1
    assert page.evaluate("Object.keys(Chart.instances).length") == 1
