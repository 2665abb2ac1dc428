"""A real application for the Postal webhook test: a one-file Django
project with Debian's django-anymail, its Postal tracking webhook view at
/anymail/postal/tracking/ configured with postseal's public key; each
tracking signal Anymail fires is appended to OUT as a JSON line.

Run: /usr/bin/python3 anymail_app.py PORT OUT PUBLIC_KEY_BASE64"""

import json
import sys

import django
from django.conf import settings

PORT, OUT, KEY = int(sys.argv[1]), sys.argv[2], sys.argv[3]

settings.configure(
    DEBUG=False,
    SECRET_KEY="postseal-test-only",
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["anymail"],
    MIDDLEWARE=[],
    ANYMAIL={"POSTAL_WEBHOOK_KEY": KEY},
    LOGGING_CONFIG=None,
)
django.setup()

from django.urls import include, path  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from anymail.signals import tracking  # noqa: E402
from wsgiref.simple_server import make_server, WSGIRequestHandler  # noqa: E402

urlpatterns = [path("anymail/", include("anymail.urls"))]


def on_tracking(sender, event, esp_name, **kwargs):
    with open(OUT, "a") as f:
        f.write(json.dumps({"esp": esp_name, "type": event.event_type,
                            "recipient": event.recipient, "message_id": event.message_id,
                            "event_id": event.event_id, "mta_response": event.mta_response})
                + "\n")


tracking.connect(on_tracking)


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


make_server("127.0.0.1", PORT, get_wsgi_application(), handler_class=Quiet).serve_forever()
