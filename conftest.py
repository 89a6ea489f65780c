"""Root pytest configuration: what nbval compares in the notebooks."""

from nbval.plugin import IPyNbCell

# pytester runs the recipes runner on pages written by tests/test_recipes.py.
pytest_plugins = ("pytester",)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_compare_outputs = IPyNbCell.compare_outputs


def _without_widget_views(outputs):
    return [out for out in outputs if WIDGET_VIEW not in out.get("data", {})]


def _compare_without_widget_views(self, test, ref, skip_compare=None):
    # A widget view in these notebooks is a progress bar (tqdm under Jupyter, e.g. "Loading weights"); how
    # many appear depends on what the caches already hold. nbval never compares the view itself, only its
    # text fallback, so whole views are dropped, like the stderr bars below.
    return _compare_outputs(self, _without_widget_views(test), _without_widget_views(ref), skip_compare)


IPyNbCell.compare_outputs = _compare_without_widget_views


def pytest_collectstart(collector):
    # Progress bars and library warnings go to stderr and vary run to run; HTML tables repeat the
    # text/plain output that is compared. Every printed number is still compared.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "stderr")


def pytest_itemcollected(item):
    if isinstance(item, IPyNbCell):
        item.add_marker("notebook")
