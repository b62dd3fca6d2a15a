"""The app's own settings, as deployed (DEBUG off), plus the bench's floor view.

``bench.run`` sets the environment first (a throwaway DATABASE_URL, a SECRET_KEY,
ALLOWED_HOSTS, plain HTTP), so the numbers are those of the production middleware
stack and storage, not of the development server's.
"""

from ccm.settings import *  # noqa: F403
from ccm.settings import INSTALLED_APPS

# The floor view and its template live in the bench package, not in the app.
INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
ROOT_URLCONF = "bench.urls"

# The API pages are timed hundreds of times a minute with one token: no throttle here.
API_CALLS_PER_MINUTE = 10**9
