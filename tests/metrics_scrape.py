"""Scraping /metrics in tests: the text parsed with prometheus_client's own parser."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-test-token"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    settings.PROMETHEUS_MULTIPROC_DIR = ""


class Scrape:
    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.families = set()
        for family in text_string_to_metric_families(text):
            self.families.add(family.name)
            for sample in family.samples:
                self.samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def value(self, name, **labels):
        """A sample's value; 0 for a labelled series not seen yet (a counter starts at 0)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return Scrape(response.content.decode())
