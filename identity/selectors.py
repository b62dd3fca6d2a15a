"""Reads of identity/: which SSO an e-mail address signs in through, and whether a
user may sign in with a password."""

from __future__ import annotations

from accounts.models import User
from identity.models import SsoDomain, TenantSso


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower() if "@" in email else ""


def sso_for_email(email: str) -> TenantSso | None:
    """The SSO of the tenant that has confirmed the address's domain, or None."""
    domain = domain_of(email)
    if not domain:
        return None
    claim = (
        SsoDomain.objects.filter(domain__iexact=domain, confirmed_at__isnull=False)
        .select_related("tenant__sso__app")
        .first()
    )
    if claim is None:
        return None
    return getattr(claim.tenant, "sso", None)


def sso_of_tenant(tenant) -> TenantSso | None:
    return TenantSso.objects.select_related("app").filter(tenant=tenant).first()


def sso_only_refusal(email: str) -> str:
    """Why `email` may not sign in with a password ("" when it may): its tenant (the
    user's, or for an unknown address the tenant whose confirmed domain it has) signs
    in through SSO only, and it is not one of the admins the tenant named as
    break-glass accounts. Said before any password is checked, so the answer is the
    same for a right and a wrong one."""
    user = User.objects.select_related("tenant").filter(email=email).first()
    if user is not None and user.tenant_id:
        sso = sso_of_tenant(user.tenant)
    else:
        sso = sso_for_email(email)
    if sso is None or not sso.sso_only:
        return ""
    if user is not None and user.is_tenant_admin and sso.break_glass.filter(pk=user.pk).exists():
        return ""
    return (
        f"{sso.tenant.name} signs in through single sign-on only. Leave the password "
        "empty and press Log in to continue at your organisation's sign-in page."
    )


def sso_names(user) -> list[str]:
    """The identity providers `user` has signed in through (their SocialApps' names)."""
    from allauth.socialaccount.models import SocialAccount, SocialApp

    providers = SocialAccount.objects.filter(user_id=user.pk).values_list("provider", flat=True)
    return list(
        SocialApp.objects.filter(provider_id__in=list(providers)).values_list("name", flat=True)
    )
