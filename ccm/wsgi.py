import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")
application = get_wsgi_application()

# Imported once Django is set up. Requests in a charset Django cannot read are refused
# with a 400 by accounts.security.RequestCharsetMiddleware; this keeps Django from
# failing on them before that middleware runs.
from accounts.security import guard_request_charset  # noqa: E402

application = guard_request_charset(application)
