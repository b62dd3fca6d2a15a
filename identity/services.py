"""Writes of identity/: a tenant's SSO set-up, its domain claims, the operators'
confirmation of them, and who an SSO sign-in is.

Each service is atomic and takes keyword arguments only. A refused set-up raises
``SsoError`` (its ``field`` names the form field); a refused sign-in raises
``SsoRefused`` with the words the person reads.
"""

from __future__ import annotations

import logging
import re

import requests
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from accounts.models import Plan, Tenant, User
from identity.models import SsoDomain, TenantSso
from identity.selectors import domain_of
from identity.signals import signed_in_through_sso

logger = logging.getLogger(__name__)

# Where an SSO sign-in is noted in the session (for the logout at the provider).
SESSION_KEY = "identity.sso"


class SsoError(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SsoRefused(Exception):
    """An SSO sign-in that our rules refuse; its text is what the person reads."""


# --- Set-up ----------------------------------------------------------------------

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalise_domain(value: str) -> str:
    domain = value.strip().lower().removeprefix("@").rstrip(".")
    if not _DOMAIN.match(domain):
        raise SsoError("Enter a domain like example.com (no @, no https://).", field="domain")
    return domain


def discover_oidc(issuer: str) -> dict:
    """The issuer's discovery document, checked: it names itself as `issuer` and has
    the endpoints a sign-in needs."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.SOCIALACCOUNT_REQUESTS_TIMEOUT)
        response.raise_for_status()
        config = response.json()
    except (requests.RequestException, ValueError):
        raise SsoError(
            f"No OpenID Connect discovery document answered at {url}. Check the issuer URL.",
            field="issuer",
        ) from None
    if not isinstance(config, dict) or config.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise SsoError(
            "The discovery document names another issuer. Copy the issuer URL exactly as "
            "your identity provider shows it.",
            field="issuer",
        )
    missing = [
        k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if k not in config
    ]
    if missing:
        raise SsoError("The discovery document lacks " + ", ".join(missing) + ".", field="issuer")
    return config


def _app_for(tenant: Tenant, protocol: str) -> tuple[TenantSso | None, SocialApp]:
    sso = TenantSso.objects.select_for_update().select_related("app").filter(tenant=tenant).first()
    if sso is not None and sso.protocol == protocol:
        return sso, sso.app
    return sso, SocialApp(provider=protocol, provider_id=tenant.slug, client_id=tenant.slug)


def _save_sso(tenant: Tenant, sso: TenantSso | None, protocol: str, app: SocialApp) -> TenantSso:
    app.name = f"{tenant.name} sign-in"
    if sso is not None and sso.protocol != protocol:  # switching protocols
        old = sso.app
        SocialAccount.objects.filter(provider=old.provider_id or old.provider).delete()
        sso.protocol, sso.app = protocol, app
        app.save()
        sso.updated_at = timezone.now()
        sso.save()
        old.delete()
        return sso
    app.save()
    if sso is None:
        return TenantSso.objects.create(tenant=tenant, protocol=protocol, app=app)
    sso.updated_at = timezone.now()
    sso.save(update_fields=["updated_at"])
    return sso


@transaction.atomic
def sso_set_oidc(
    *, tenant: Tenant, actor: User, issuer: str, client_id: str, client_secret: str
) -> TenantSso:
    """Sign the tenant in through an OpenID Connect provider. An empty secret keeps the
    one on file."""
    issuer = issuer.strip()
    config = discover_oidc(issuer)
    sso, app = _app_for(tenant, TenantSso.Protocol.OIDC)
    if not client_secret and not app.secret:
        raise SsoError("Enter the client secret.", field="client_secret")
    app.client_id = client_id.strip()
    if client_secret:
        app.secret = client_secret.strip()
    app.settings = {
        "server_url": config["issuer"],
        # "client_secret_post" unless the provider only takes Basic.
        **(
            {"token_auth_method": "client_secret_basic"}
            if "client_secret_post"
            not in config.get("token_endpoint_auth_methods_supported", ["client_secret_post"])
            else {}
        ),
    }
    sso = _save_sso(tenant, sso, TenantSso.Protocol.OIDC, app)
    logger.info("tenant %s: OpenID Connect set up by user %s (%s)", tenant.pk, actor.pk, issuer)
    return sso


SAML_ATTRIBUTES = {
    "uid": ["urn:oasis:names:tc:SAML:attribute:subject-id"],
    "email": [
        "urn:oid:0.9.2342.19200300.100.1.3",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "email",
        "mail",
    ],
    "name": ["http://schemas.microsoft.com/identity/claims/displayname", "displayName", "name"],
    "first_name": [
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
        "urn:oid:2.5.4.42",
        "firstName",
        "givenName",
    ],
    "last_name": [
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
        "urn:oid:2.5.4.4",
        "lastName",
        "sn",
    ],
}


# What python3-saml insists on: signed assertions, no IdP-initiated sign-in (its
# answers would match no sign-in started here), no SHA-1.
SAML_ADVANCED = {
    "strict": True,
    "want_assertion_signed": True,
    "reject_idp_initiated_sso": True,
    "reject_deprecated_algorithm": True,
    # Our own URLs may be http://localhost:8000/… in development.
    "allow_single_label_domains": True,
}


def parse_idp_metadata(*, url: str = "", xml: str = "") -> dict:
    """The IdP's entity id, signing certificate and sign-in (and sign-out) URLs from
    its SAML metadata, by python3-saml's parser."""
    try:
        if url:
            parsed = OneLogin_Saml2_IdPMetadataParser.parse_remote(
                url, timeout=settings.SOCIALACCOUNT_REQUESTS_TIMEOUT
            )
        else:
            parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
    except Exception:
        where = "at that URL" if url else "in that XML"
        raise SsoError(
            f"No SAML 2.0 IdP metadata could be read {where}. Copy it again from your "
            "identity provider.",
            field="metadata_url" if url else "metadata_xml",
        ) from None
    idp = parsed.get("idp") or {}
    if not (idp.get("entityId") and idp.get("singleSignOnService", {}).get("url")):
        raise SsoError(
            "The metadata names no IdP entity or sign-in URL.",
            field="metadata_url" if url else "metadata_xml",
        )
    if not (idp.get("x509cert") or idp.get("x509certMulti")):
        raise SsoError(
            "The metadata has no signing certificate: we accept only signed assertions.",
            field="metadata_url" if url else "metadata_xml",
        )
    cert = idp.get("x509cert") or idp["x509certMulti"]["signing"][0]
    return {
        "entity_id": idp["entityId"],
        "x509cert": cert,
        "sso_url": idp["singleSignOnService"]["url"],
        "slo_url": (idp.get("singleLogoutService") or {}).get("url", ""),
    }


@transaction.atomic
def sso_set_saml(
    *, tenant: Tenant, actor: User, metadata_url: str = "", metadata_xml: str = ""
) -> TenantSso:
    """Sign the tenant in through a SAML 2.0 IdP, from its metadata (a URL, read now and
    kept for key rotation, or the XML itself). Assertions must be signed."""
    metadata_url, metadata_xml = metadata_url.strip(), metadata_xml.strip()
    if not (metadata_url or metadata_xml):
        raise SsoError("Enter the metadata URL, or paste the metadata XML.", field="metadata_url")
    idp = parse_idp_metadata(url=metadata_url, xml=metadata_xml)
    sso, app = _app_for(tenant, TenantSso.Protocol.SAML)
    if metadata_url:
        idp_settings = {"metadata_url": metadata_url, "entity_id": idp["entity_id"]}
    else:
        idp_settings = {k: v for k, v in idp.items() if v}
    app.settings = {
        "idp": idp_settings,
        "attribute_mapping": SAML_ATTRIBUTES,
        "advanced": SAML_ADVANCED,
        "parsed_idp": idp,  # shown on the page
    }
    sso = _save_sso(tenant, sso, TenantSso.Protocol.SAML, app)
    logger.info("tenant %s: SAML set up by user %s (%s)", tenant.pk, actor.pk, idp["entity_id"])
    return sso


@transaction.atomic
def sso_set_options(
    *,
    tenant: Tenant,
    actor: User,
    first_sign_in: str,
    default_plan: Plan | None,
    sso_only: bool,
    break_glass: list[User],
) -> TenantSso:
    sso = TenantSso.objects.select_for_update().filter(tenant=tenant).first()
    if sso is None:
        raise SsoError("Set up the identity provider first.")
    if first_sign_in not in TenantSso.FirstSignIn.values:
        raise SsoError("Choose what happens at a first sign-in.", field="first_sign_in")
    if default_plan is not None and default_plan.tenant_id != tenant.pk:
        raise SsoError("Pick one of your tenant's plans.", field="default_plan")
    strangers = [u for u in break_glass if u.tenant_id != tenant.pk or not u.is_tenant_admin]
    if strangers:
        raise SsoError("Break-glass accounts must be admins of your tenant.", field="break_glass")
    if sso_only and not break_glass:
        raise SsoError(
            "Name at least one admin as a break-glass account, who can still sign in with "
            "a password when your identity provider is down.",
            field="break_glass",
        )
    sso.first_sign_in, sso.sso_only, sso.updated_at = first_sign_in, sso_only, timezone.now()
    sso.save(update_fields=["first_sign_in", "sso_only", "updated_at"])
    sso.break_glass.set(break_glass)
    Tenant.objects.filter(pk=tenant.pk).update(default_plan=default_plan)
    tenant.default_plan = default_plan
    logger.info("tenant %s: SSO options changed by user %s", tenant.pk, actor.pk)
    return sso


@transaction.atomic
def sso_remove(*, tenant: Tenant, actor: User) -> None:
    sso = TenantSso.objects.select_for_update().select_related("app").filter(tenant=tenant).first()
    if sso is None:
        return
    app = sso.app
    SocialAccount.objects.filter(provider=app.provider_id or app.provider).delete()
    sso.delete()
    app.delete()
    logger.info("tenant %s: SSO removed by user %s", tenant.pk, actor.pk)


@transaction.atomic
def domain_claim(*, tenant: Tenant, actor: User, domain: str) -> SsoDomain:
    domain = normalise_domain(domain)
    try:
        with transaction.atomic():
            return SsoDomain.objects.create(tenant=tenant, domain=domain, claimed_by=actor)
    except IntegrityError:
        raise SsoError("Your tenant has already claimed this domain.", field="domain") from None


@transaction.atomic
def domain_withdraw(*, tenant: Tenant, actor: User, pk: int) -> None:
    SsoDomain.objects.filter(tenant=tenant, pk=pk).delete()


class DomainConfirmError(Exception):
    pass


@transaction.atomic
def domain_confirm(*, claim: SsoDomain, operator: User) -> SsoDomain:
    """An operator confirms that the tenant owns the domain (a DNS record, a letter,
    a call: whatever they checked). The one confirmed claim per domain is the
    database's constraint."""
    claim = SsoDomain.objects.select_for_update().get(pk=claim.pk)
    if claim.confirmed_at is not None:
        return claim
    claim.confirmed_at, claim.confirmed_by = timezone.now(), operator
    try:
        with transaction.atomic():
            claim.save(update_fields=["confirmed_at", "confirmed_by"])
    except IntegrityError:
        raise DomainConfirmError(
            f"{claim.domain} is already confirmed for another tenant; withdraw that first."
        ) from None
    logger.info(
        "domain %s confirmed for tenant %s by operator %s",
        claim.domain,
        claim.tenant_id,
        operator.pk,
    )
    return claim


@transaction.atomic
def domain_unconfirm(*, claim: SsoDomain, operator: User) -> None:
    SsoDomain.objects.filter(pk=claim.pk).update(confirmed_at=None, confirmed_by=None)
    logger.info("domain %s unconfirmed by operator %s", claim.domain, operator.pk)


# --- Signing in -------------------------------------------------------------------

ASK_YOUR_ADMIN = (
    "You have no account in {tenant} yet: ask your admin to add you, then sign in again."
)
NOT_OURS = (
    "{tenant}'s identity provider may not sign in {email}: that address is not in one "
    "of {tenant}'s confirmed domains. Nothing was signed in."
)


def _asserted(sociallogin) -> tuple[str, str]:
    """The e-mail address and name the provider asserted."""
    email = (sociallogin.user.email or "").strip().lower()
    if not email and sociallogin.email_addresses:
        email = sociallogin.email_addresses[0].email.strip().lower()
    data = sociallogin.account.extra_data or {}
    claims = data.get("userinfo") or data.get("id_token")
    if isinstance(claims, dict):  # OpenID Connect
        name = claims.get("name") or " ".join(
            filter(None, [claims.get("given_name"), claims.get("family_name")])
        )
    else:  # SAML: every attribute is a list of values

        def first(key: str) -> str:
            for attribute in SAML_ATTRIBUTES[key]:
                values = data.get(attribute)
                if values:
                    return str(values[0])
            return ""

        name = first("name") or " ".join(filter(None, [first("first_name"), first("last_name")]))
    return email, " ".join(str(name or "").split())[:150]


def sso_user_for(*, request: HttpRequest, sociallogin) -> User:
    """Who this SSO sign-in is, by the tenant's rules, before allauth logs them in:

    - the provider must be a tenant's, and the asserted address in one of that
      tenant's confirmed domains (an IdP of tenant A never signs in an address of B);
    - the address's user must be of that tenant and active;
    - someone without an account is added (the tenant's default plan) or refused,
      as the tenant chose.
    Links the provider's account to the user, and notes the sign-in in the session.
    """
    app = sociallogin.provider.app
    sso = TenantSso.objects.select_related("tenant").filter(app_id=app.pk).first()
    if sso is None:
        raise SsoRefused("This sign-in is not set up for any tenant.")
    tenant = sso.tenant
    email, name = _asserted(sociallogin)
    if not email:
        raise SsoRefused(
            f"{tenant.name}'s identity provider sent no e-mail address: ask your admin to "
            "have it send one."
        )
    confirmed = SsoDomain.objects.filter(
        tenant=tenant, domain__iexact=domain_of(email), confirmed_at__isnull=False
    ).exists()
    if not confirmed:
        logger.warning("SSO of tenant %s asserted %s outside its domains", tenant.pk, email)
        raise SsoRefused(NOT_OURS.format(tenant=tenant.name, email=email))
    if sociallogin.is_existing:
        user = sociallogin.user
        if user.email != email:
            raise SsoRefused(
                f"Your identity provider now calls you {email}, but your account here is "
                f"{user.email}: ask your admin to change one of them."
            )
    else:
        user = User.objects.filter(email=email).first()
    if user is not None and user.tenant_id != tenant.pk:
        logger.warning("SSO of tenant %s asserted %s, a user of another tenant", tenant.pk, email)
        raise SsoRefused(NOT_OURS.format(tenant=tenant.name, email=email))
    if user is not None and not user.is_active:
        raise SsoRefused("This account is disabled. Contact your admin.")
    if user is None:
        if sso.first_sign_in != TenantSso.FirstSignIn.CREATE:
            raise SsoRefused(ASK_YOUR_ADMIN.format(tenant=tenant.name))
        user = _create_sso_user(tenant=tenant, email=email, name=name)
        act, words = "sso_signup", f"Signed in through {app.name} and was added to {tenant.name}."
    else:
        act, words = "sso_link", f"Signed in through {app.name} for the first time."
    if not sociallogin.is_existing:
        with transaction.atomic():
            sociallogin.connect(request, user)
            # The profile's history notes it (billing listens: identity knows no billing).
            signed_in_through_sso.send(TenantSso, user=user, act=act, description=words)
    request.session[SESSION_KEY] = {
        "tenant": tenant.pk,
        "app": app.pk,
        "protocol": sso.protocol,
        **getattr(request, "identity_saml_logout", {}),
    }
    return user


@transaction.atomic
def _create_sso_user(*, tenant: Tenant, email: str, name: str) -> User:
    plan = tenant.default_plan if tenant.default_plan_id else None
    user = User.objects.create_user(
        email=email, password=None, name=name or email.split("@")[0], tenant=tenant, plan=plan
    )
    logger.info("user %s added to tenant %s at a first SSO sign-in", user.pk, tenant.pk)
    return user


def log_refusal(*, provider, error, exception, extra) -> None:
    reason = (extra or {}).get("saml_last_error_reason") or exception or error
    logger.warning(
        "SSO sign-in refused (%s): %s",
        getattr(getattr(provider, "app", None), "provider_id", "?"),
        reason,
    )
