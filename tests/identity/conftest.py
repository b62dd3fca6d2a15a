from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from accounts.models import Tenant, User
from identity import services
from identity.models import SsoDomain, TenantSso
from tests.identity.idps import CLIENT_ID, CLIENT_SECRET, Idp, start_oidc, start_saml

TESTSERVER = "http://testserver"


@pytest.fixture
def oidc_idp() -> Iterator[Idp]:
    idp = start_oidc([TESTSERVER], ["acme", "globex"])
    yield idp
    idp.stop()


@pytest.fixture
def saml_idp(tmp_path) -> Iterator[Idp]:
    idp = start_saml(tmp_path, [TESTSERVER], ["acme", "globex"])
    yield idp
    idp.stop()


def confirm_domain(tenant: Tenant, domain: str) -> SsoDomain:
    claim = SsoDomain.objects.create(tenant=tenant, domain=domain)
    root = User.objects.filter(is_superuser=True).first()
    return services.domain_confirm(claim=claim, operator=root) if root else _confirm(claim)


def _confirm(claim: SsoDomain) -> SsoDomain:
    claim.confirmed_at = timezone.now()
    claim.save()
    return claim


def oidc_tenant(tenant: Tenant, idp: Idp, actor: User, **options) -> TenantSso:
    sso = services.sso_set_oidc(
        tenant=tenant,
        actor=actor,
        issuer=idp.base,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    confirm_domain(tenant, f"{tenant.slug}.example")
    return _options(sso, actor, **options)


def saml_tenant(tenant: Tenant, idp: Idp, actor: User, **options) -> TenantSso:
    sso = services.sso_set_saml(tenant=tenant, actor=actor, metadata_url=f"{idp.base}/metadata")
    confirm_domain(tenant, f"{tenant.slug}.example")
    return _options(sso, actor, **options)


def _options(
    sso: TenantSso, actor: User, *, first_sign_in="create", sso_only=False, break_glass=()
):
    if first_sign_in != sso.first_sign_in or sso_only:
        return services.sso_set_options(
            tenant=sso.tenant,
            actor=actor,
            first_sign_in=first_sign_in,
            default_plan=sso.tenant.default_plan,
            sso_only=sso_only,
            break_glass=list(break_glass),
        )
    return sso
