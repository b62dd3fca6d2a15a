"""Single sign-on per tenant: which identity provider signs its people in, with what
options, and the e-mail domains that sign in through it.

The provider's protocol settings (issuer and client, or the IdP's SAML metadata) are
an allauth ``SocialApp`` (``provider`` "openid_connect" or "saml", ``provider_id`` the
tenant's slug): allauth's providers read them from there. What is ours (the domains,
the first-sign-in rule, "SSO only" and its break-glass admins) is here.
"""

from __future__ import annotations

from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Tenant


class TenantSso(models.Model):
    class Protocol(models.TextChoices):
        OIDC = "openid_connect", "OpenID Connect"
        SAML = "saml", "SAML 2.0"

    class FirstSignIn(models.TextChoices):
        CREATE = "create", "Add them to the tenant"
        REFUSE = "refuse", "Refuse: an admin adds users first"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="sso")
    protocol = models.CharField(max_length=20, choices=Protocol.choices)
    app = models.OneToOneField(SocialApp, on_delete=models.PROTECT, related_name="tenant_sso")
    first_sign_in = models.CharField(
        "Someone of your domains signs in for the first time",
        max_length=10,
        choices=FirstSignIn.choices,
        default=FirstSignIn.REFUSE,
    )
    sso_only = models.BooleanField("SSO only: refuse password sign-in", default=False)
    break_glass = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text="Admins who may still sign in with their password when SSO only is on.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "tenant SSO"
        verbose_name_plural = "tenant SSO"

    def __str__(self) -> str:
        return f"{self.get_protocol_display()} for {self.tenant}"


class SsoDomain(models.Model):
    """An e-mail domain a tenant claims for its SSO. It takes effect once an operator
    has confirmed it in /django-admin/ (confirmed_at), and a domain has at most one
    confirmed claim: several tenants may claim one while the operator finds out whose
    it is, so that nobody can hold a domain hostage by claiming it first."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sso_domains")
    domain = models.CharField(max_length=253)
    claimed_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "SSO domain claim"
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(
                "tenant",
                Lower("domain"),
                name="sso_domain_once_per_tenant",
                violation_error_message="Your tenant has already claimed this domain.",
            ),
            models.UniqueConstraint(
                Lower("domain"),
                condition=Q(confirmed_at__isnull=False),
                name="sso_domain_confirmed_once",
                violation_error_message="This domain is already confirmed for another tenant.",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None
