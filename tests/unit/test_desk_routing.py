"""Which department a handoff goes to (desk_departments.yml)."""
import pytest

from bot.desk.departments import ROOT, Routing


@pytest.fixture(scope="module")
def routing():
    return Routing.load(ROOT / "desk_departments.yml")


@pytest.mark.parametrize("topics, department", [
    (["invoice", "request_human"], "financeiro"),          # the service asked for comes first
    ([None, "request_cancellation", "request_invoice"], "cancelamento"),  # then the newest intent
    (["cancellation"], "cancelamento"),
    ([None, "request_plan_change"], "comercial"),
    ([None, "report_no_connection"], "suporte"),
    ([None, "greet", None], "suporte"),                     # nothing mapped: the default
    ([], "suporte"),
])
def test_the_topic_picks_the_department(routing, topics, department):
    assert routing.route(topics) == department


def test_every_requested_service_of_the_domain_has_a_department(routing):
    import yaml
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    services = domain["slots"]["requested_service"]["values"]
    assert sorted(set(services) - set(routing.by_topic)) == []


def test_routing_to_an_unlisted_department_is_refused_at_load(tmp_path):
    path = tmp_path / "departments.yml"
    path.write_text("departments: {suporte: Suporte}\ndefault: suporte\nrouting: {request_invoice: financeiro}\n")
    with pytest.raises(ValueError, match="financeiro"):
        Routing.load(path)
