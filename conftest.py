"""Root pytest configuration: what nbval compares in the notebooks."""


def pytest_collectstart(collector):
    # Progress bars and library warnings go to stderr and vary run to run; HTML tables repeat the
    # text/plain output that is compared. Every printed number is still compared.
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("text/html", "application/javascript", "stderr")
