"""What Activate and Deactivate Pay Profile share (billing/views.py, the
_profile_action_* templates): a POST from a page that is out of date, because
another admin acted meanwhile or the same admin clicked twice, is refused with a
message and acts once. (Two admins at the very same moment: tests/test_concurrency.py.)"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_fsm_log.models import StateLog
from mailer.models import Message

from billing.models import State
from tests.helpers import client_for, state_of

USERS = reverse("billing:user_list")

# act: (url name, state the Users page showed it for, state after it, refusal)
ACTS = {
    "activate": (
        "billing:profile_activate",
        State.PENDING,
        State.ACTIVE,
        "The payment profile of Bob User is already active.",
    ),
    "deactivate": (
        "billing:profile_deactivate",
        State.ACTIVE,
        State.INACTIVE,
        "The payment profile of Bob User is already inactive.",
    ),
}


@pytest.mark.parametrize("act", sorted(ACTS))
@pytest.mark.parametrize("second", ["dora", "alice"], ids=["another-admin", "double-click"])
def test_it_refuses_a_post_from_a_stale_page_with_a_message(
    request, alice, bob, make_profile, act, second
):
    name, shown_for, after, refusal = ACTS[act]
    make_profile(bob, shown_for)
    url = reverse(name, args=[bob.pk])
    stale = client_for(request.getfixturevalue(second))
    assert stale.get(USERS).status_code == 200  # the page with the act on bob's row

    client_for(alice).post(url, {"next": USERS})
    response = stale.post(url, {"next": USERS}, follow=True)

    assert response.redirect_chain == [(USERS, 302)]
    shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert shown == [("error", refusal)]
    assert state_of(bob) == after
    assert StateLog.objects.count() == 1
    assert Message.objects.count() == 1
