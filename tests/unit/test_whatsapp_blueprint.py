"""The WhatsApp webhook's blueprint registers on a Sanic app (what `rasa run` does with it)."""
from sanic import Sanic

from channels.whatsapp import WhatsAppInput
from channels.whatsapp.settings import WhatsAppSettings


async def _ignore(_message) -> None:
    return None


def test_the_blueprint_registers_its_routes_and_listener():
    app = Sanic("whatsapp_blueprint_test")
    channel = WhatsAppInput(WhatsAppSettings(app_secret="s", verify_token="t"))
    app.blueprint(channel.blueprint(_ignore), url_prefix="/webhooks/whatsapp")
    routes = {(route.path, method) for route in app.router.routes for method in route.methods}
    assert {("webhooks/whatsapp", "GET"), ("webhooks/whatsapp/webhook", "GET"),
            ("webhooks/whatsapp/webhook", "POST")} <= routes
